import AsyncHTTPClient
import Foundation
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals
import TallyAWS
import TallyCore
import TallyIAM
import TallyLedger

/// `tally gateway`: the AWS API proxy that records every call before it reaches AWS.
public struct Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let logger: Logger

    public init(configuration: GatewayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT, then drains in-flight calls and closes the ledger.
    public func run() async throws {
        // Run Swift Concurrency's jobs on NIO's event loops (the singleton group the server and the HTTP
        // client use): a request's task then resumes on the event loop whose I/O woke it, without a hop to
        // and from the Dispatch pool per await. Nothing here blocks an event loop (the ledger's fsync has its
        // own thread). TALLY_GATEWAY_EXECUTOR=dispatch keeps the default pool (for comparison). The number of
        // event-loop threads is NIO's: one per core, or env NIO_SINGLETON_GROUP_LOOP_COUNT. A gateway takes over
        // its process's executor: run one per process.
        if ProcessInfo.processInfo.environment["TALLY_GATEWAY_EXECUTOR"] != "dispatch" {
            if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
                logger.notice("could not run Swift Concurrency on the NIO event loops; using the default executor")
            }
        }
        let paths = GatewayPaths(home: configuration.home)
        // Files named on the command line are read first: a bad one is a usage error (exit 2) naming it, before the
        // ledger is opened or anything is written (review, session 9: the gateway crashed, or only warned).
        var serverTLS: TLSConfiguration?
        if let cert = configuration.tlsCertificate, let key = configuration.tlsKey {
            let chain = try Self.pemCertificates(cert, named: "--tls-cert")
            // Served anyway (it may be renewed in place of a test setup's), but said: every agent's handshake would
            // otherwise fail with only a TLS error on the agent's side (session 13 probe).
            let now = time(nil)
            if let leaf = chain.first, leaf.notValidAfter < now || leaf.notValidBefore > now {
                let expired = leaf.notValidAfter < now
                let when = Date(timeIntervalSince1970: TimeInterval(expired ? leaf.notValidAfter : leaf.notValidBefore)).ISO8601Format()
                logger.warning("--tls-cert \(cert) \(expired ? "expired on" : "is not valid before") \(when): agents' TLS handshakes will fail until it is replaced")
            }
            let privateKey: NIOSSLPrivateKey
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
                do { privateKey = try NIOSSLPrivateKey(file: key, format: .der) } catch {
                    throw TallyError(.badInput, "--tls-key \(key): not a readable PEM or DER private key file (\(error))")
                }
            }
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                               privateKey: .privateKey(privateKey))
            // TLS 1.2 or newer, and for 1.2 forward-secret AEAD suites only, as AWS's own endpoints require (NIOSSL's
            // defaults took TLS 1.0 and non-forward-secret suites such as AES128-SHA; session 13 probe).
            tls.minimumTLSVersion = .tlsv12
            tls.cipherSuites = Self.tls12CipherSuites
            do { _ = try NIOSSLContext(configuration: tls) } catch {
                throw TallyError(.badInput, "--tls-cert \(cert) and --tls-key \(key) do not make a usable TLS identity "
                                 + "(does the key belong to the certificate?): \(error)")
            }
            serverTLS = tls
        }
        let caBundle: (path: String, flag: String)? = configuration.upstreamCABundle.map { ($0, "--upstream-ca-bundle") }
            ?? ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : ($0, "AWS_CA_BUNDLE") }
        // Checked when it will be used (an https or AWS upstream; a stale AWS_CA_BUNDLE does not stop an http one), and
        // a folder of certificates (a CA path, as OpenSSL takes it) is left to the TLS layer.
        var isFolder: ObjCBool = false
        let usesTLS: Bool
        switch configuration.upstream {
        case .aws: usesTLS = true
        case .fixed(let url): usesTLS = url.scheme?.lowercased() == "https"
        }
        if let caBundle, configuration.upstreamCABundle != nil || usesTLS,
           !(FileManager.default.fileExists(atPath: caBundle.path, isDirectory: &isFolder) && isFolder.boolValue) {
            _ = try Self.pemCertificates(caBundle.path, named: caBundle.flag)
        }
        let identifier = try OperationIdentifier.load()
        let mapping = try APIMapping.load()
        let base = try UpstreamCredentialChain.resolve()
        // The gateway commits a record or two per block; each segment it seals is compacted in the background
        // (small blocks merged, LZ4HC level 3), so its ledger ends up smaller than `lz4 -1` of the same lines.
        var ledgerOptions = try LedgerOptions.forHome(configuration.home)
        ledgerOptions.autoCompactLevel = 3
        // Each call's record is a small write synced on its own; written over zeros written ahead, it leaves the
        // file's size alone, so the fdatasync the call waits for need not commit the journal (LedgerOptions).
        ledgerOptions.preallocateBytes = 1 << 20
        let waitLogger = logger
        ledgerOptions.onLockWait = { timeout in
            waitLogger.warning("the ledger is locked by another process (another gateway, ledger append or compact); waiting", metadata: [
                "upToSeconds": "\(timeout)"])
        }
        let ledger = try await Ledger.open(home: configuration.home, options: ledgerOptions)
        if let recovery = await ledger.recovery {
            logger.warning("ledger recovered a torn tail on open", metadata: ["recovery": "\(recovery)"])
        }
        // After the ledger is open (this process is now its only writer): every credential.issued / .revoked so far
        // is read, so a revocation survives a restart and any edit of the registry (review finding 12).
        let store = try CredentialStore(paths: paths, logger: logger)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.decompression = .disabled
        clientConfiguration.tracing.tracer = nil  // no span per upstream call (the default no-op tracer still costs one)
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        clientConfiguration.timeout = .init(connect: .seconds(10), read: .seconds(900))
        var upstreamTLS = TLSConfiguration.makeClientConfiguration()
        upstreamTLS.minimumTLSVersion = .tlsv12  // a TLS 1.0-only upstream was accepted (session 13 probe)
        if let bundle = caBundle?.path { upstreamTLS.trustRoots = .file(bundle) }
        clientConfiguration.tlsConfiguration = upstreamTLS
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            try await serve(paths: paths, identifier: identifier, mapping: mapping, base: base, ledger: ledger, store: store,
                            client: client, upstreamTLS: upstreamTLS, serverTLS: serverTLS)
        } catch {
            // A failure to start (e.g. the listen address) must not leave the client to crash the process in its deinit.
            try? await client.shutdown()
            try? await ledger.close()
            let listen = "--listen \(configuration.host):\(configuration.port)"
            if let io = error as? IOError, io.errnoCode == EADDRINUSE {
                throw TallyError(.badInput, "\(listen): the address is already in use")
            } else if let io = error as? IOError, io.errnoCode == EADDRNOTAVAIL || io.errnoCode == EACCES {
                throw TallyError(.badInput, "\(listen): cannot listen there (\(io.description))")
            } else if error is SocketAddressError || error is SocketAddressError.UnknownHost {
                throw TallyError(.badInput, "\(listen): not an address this machine can listen on (\(error))")
            }
            throw error
        }
    }

    /// The TLS 1.2 suites the listener offers (OpenSSL cipher list): ECDHE key exchange, AES-GCM or ChaCha20-Poly1305.
    static let tls12CipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    /// The certificates of a PEM file named by `flag`; a usage error naming it when it cannot be read or holds none.
    static func pemCertificates(_ path: String, named flag: String) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw TallyError(.badInput, "\(flag) \(path): not a readable PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else { throw TallyError(.badInput, "\(flag) \(path): the file holds no PEM certificate") }
        return certificates
    }

    private func serve(paths: GatewayPaths, identifier: OperationIdentifier, mapping: APIMapping, base: UpstreamCredential,
                       ledger: Ledger, store: CredentialStore, client: HTTPClient, upstreamTLS: TLSConfiguration,
                       serverTLS: TLSConfiguration?) async throws {
        // Calls without a streamed body go upstream over the gateway's own per-event-loop connections;
        // TALLY_GATEWAY_UPSTREAM=ahc sends them through AsyncHTTPClient instead (for comparison).
        let upstreamPool = ProcessInfo.processInfo.environment["TALLY_GATEWAY_UPSTREAM"] == "ahc"
            ? nil : UpstreamPool(tlsConfiguration: upstreamTLS)
        let metrics = GatewayMetrics()
        let recorder = CallRecorder(ledger: ledger, metrics: metrics)
        let handler = GatewayHandler(
            configuration: configuration, store: store, identifier: identifier, mapping: mapping,
            recorder: recorder,
            identity: UpstreamIdentity(base: base, upstream: configuration.upstream, client: client, recorder: recorder),
            client: client, upstreamPool: upstreamPool, metrics: metrics, logger: logger)

        // Plain calls (no streamed body) run on the event loop without a task (``PlainCallHandler``), which also
        // closes idle connections; everything else goes to `respond`. TALLY_GATEWAY_PLAIN=off sends all to `respond`.
        var builder: HTTPServerBuilder
        if let upstreamPool, ProcessInfo.processInfo.environment["TALLY_GATEWAY_PLAIN"] != "off" {
            _ = upstreamPool
            builder = .http1(configuration: .init(
                additionalChannelHandlers: [PlainCallHandler(gateway: handler, idleTimeout: .seconds(75))], idleTimeout: nil))
        } else {
            builder = .http1(configuration: .init(idleTimeout: .seconds(75)))
        }
        if let tls = serverTLS {
            builder = try .tls(builder, tlsConfiguration: tls)
        }
        let logger = self.logger
        let configuration = self.configuration
        let server = try builder.buildServer(
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "tally.gateway.http", factory: { _ in SwiftLogNoOpLogHandler() })
        ) { request, writer, channel in
            try await handler.respond(request, writer, channel: channel)
        } onServerRunning: { channel in
            logger.notice("tally gateway listening", metadata: [
                "listen": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                "tls": "\(configuration.tlsCertificate != nil)",
                "upstream": "\(configuration.upstream)",
                "upstreamCredential": "\(base.source)",
            ])
        }
        do { try await handler.flusher.flush(force: true) } catch {
            // A refused registry (or a failed append) is not fatal: keys are refused (503) until it reads and checks
            // again, and the maintenance loop retries every second.
            logger.error("recording pending credential events failed", metadata: ["error": "\(error)"])
        }
        do {
            let arn = try await handler.identity.resolveBaseARN(timeout: .seconds(3))
            logger.notice("upstream identity", metadata: ["arn": "\(arn)"])
            if GatewayHandler.iamIdentity(arn) != nil {
                do {
                    let learned = try await handler.identity.learnAttachments(timeout: .seconds(3))
                    logger.notice("upstream identity attachments", metadata: [
                        "groups": "\(learned.groups.sorted())", "managedPolicies": "\(learned.policies.count)"])
                } catch {
                    logger.warning("could not learn the groups and managed policies of the upstream identity; IAM changes to groups and policy versions are refused until they are known",
                                   metadata: ["error": "\(error)"])
                }
            }
        } catch {
            logger.warning("could not learn the upstream identity (STS GetCallerIdentity); events record its access key id",
                           metadata: ["error": "\(error)"])
        }
        let identity = handler.identity
        let closer = MaintenanceService(flusher: handler.flusher, logger: logger, tick: { identity.refreshAttachmentsIfStale(retryAfterFailure: .seconds(300)) }) {
            await handler.background.drain()
            upstreamPool?.shutdown()
            try? await client.shutdown()
            do { try await ledger.close() } catch { logger.error("ledger close failed", metadata: ["error": "\(error)"]) }
            logger.notice("tally gateway stopped; ledger closed")
        }
        // Last, so it hears of graceful shutdown first: it starts the drain limit's clock and returns.
        let inFlight = handler.inFlight, drainLimit = configuration.drainTimeout
        let deadline = DrainLimitService(limit: drainLimit, onStart: {
            // At notice: an operator sees the shutdown begin, not 20 s of silence (it was logged at debug only).
            logger.notice("graceful shutdown: draining calls in flight (a second SIGTERM or SIGINT cuts them off now)", metadata: [
                "callsWaitingForUpstream": "\(inFlight.count)", "drainSeconds": "\(drainLimit)"])
        }, onSecondSignal: {
            // As at the drain limit, only sooner: the calls are recorded `aborted` and the ledger is still closed with
            // its final checkpoint (an exit here would leave it as a kill -9 does).
            let n = inFlight.expire(reason: "second signal")
            logger.warning("second signal: cutting off calls still waiting for the upstream", metadata: ["calls": "\(n)"])
        }) {
            let n = inFlight.expire()
            if n > 0 {
                logger.warning("drain limit reached: cutting off calls still waiting for the upstream",
                               metadata: ["calls": "\(n)", "drainSeconds": "\(drainLimit)"])
            }
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: closer), .init(service: server), .init(service: deadline)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// Records pending credential events once a second until graceful shutdown, then runs `onShutdown`
/// (it is the first service, so the server has drained and stopped before this runs).
struct MaintenanceService: Service {
    let flusher: RegistryEventFlusher
    let logger: Logger
    /// Runs every second (cheap: e.g. the own identity's attachments refreshed in the background when stale).
    var tick: @Sendable () -> Void = {}
    let onShutdown: @Sendable () async -> Void

    func run() async throws {
        let flusher = self.flusher, logger = self.logger, tick = self.tick
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                tick()
                do { try await flusher.flush() } catch {
                    logger.error("recording pending credential events failed", metadata: ["error": "\(error)"])
                }
            }
        }
        await onShutdown()
    }
}

/// Waits for graceful shutdown, then runs `onExpiry` once `limit` has passed (in a task of its own: the service itself
/// returns at once, so the server is told to drain right after).
///
/// A second SIGTERM or SIGINT during the drain runs `onSecondSignal` at once (an operator pressing Ctrl-C again, or
/// an orchestrator asking twice, expects the gateway to stop waiting; the service group itself ignores repeats).
struct DrainLimitService: Service {
    let limit: Duration
    var onStart: @Sendable () -> Void = {}
    var onSecondSignal: @Sendable () -> Void = {}
    let onExpiry: @Sendable () -> Void

    func run() async throws {
        // Trapped from the start (the service group traps them too; each trap hears every signal), counted from the
        // first one the drain begins with.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        do { try await gracefulShutdown() } catch { return }  // cancelled: the group is going down anyway
        onStart()
        let limit = self.limit, onExpiry = self.onExpiry, onSecondSignal = self.onSecondSignal
        Task.detached {
            try? await Task.sleep(for: limit)
            onExpiry()
        }
        Task.detached {
            var seen = 0
            for await _ in signals {
                seen += 1
                if seen == 2 { onSecondSignal(); return }
            }
        }
    }
}
