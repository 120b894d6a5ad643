import HummingbirdCore
import NIOCore
import Testing
@testable import TallyGateway
import TallyAWS
import TallyCore

/// The body pump's pipe and hold-back (review findings 1 and 2): the one iteration of the agent's body feeds the
/// upstream through a bounded pipe, and the last bytes wait for verification.
@Suite struct BodyPipeTests {
    static func buffer(_ n: Int, _ byte: UInt8 = 0x61) -> ByteBuffer { ByteBuffer(bytes: [UInt8](repeating: byte, count: n)) }

    /// An agent body given as buffers (an async sequence, read once).
    struct Agent: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let parts: [ByteBuffer]
        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: [ByteBuffer]
            mutating func next() async throws -> ByteBuffer? { rest.isEmpty ? nil : rest.removeFirst() }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: parts) }
    }

    static func drain(_ pipe: BodyPipe) async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await b in PipeBody(pipe: pipe) { out += b.readableBytesView }
        return out
    }

    /// A buffer read is released at once, though the queue never runs empty (an upstream steadily slower than the
    /// agent): the pipe held every buffer read until it did, and a 1 GiB upload through a slow link cost ~1 GB.
    @Test func buffersReadAreReleasedWhileTheQueueStaysNonEmpty() async throws {
        let pipe = BodyPipe(highWatermark: 1 << 20)
        #expect(await pipe.send(Self.buffer(10, 0)))
        for i in 1...100 {
            #expect(await pipe.send(Self.buffer(10, UInt8(i))))
            let got = try await pipe.next()
            #expect(got?.readableBytesView.first == UInt8(i - 1))
            #expect(pipe.heldBuffers == 1, "round \(i)")
        }
    }

    @Test func buffersArriveInOrderThenTheEnd() async throws {
        let pipe = BodyPipe(highWatermark: 8)
        let producer = Task {
            for i in 0..<20 { #expect(await pipe.send(Self.buffer(5, UInt8(i)))) }
            pipe.finish()
        }
        let got = try await Self.drain(pipe)
        await producer.value
        #expect(got == (0..<20).flatMap { [UInt8](repeating: UInt8($0), count: 5) })
    }

    @Test func aSecondIterationIsRefused() async throws {
        let pipe = BodyPipe()
        pipe.finish()
        _ = try await Self.drain(pipe)
        await #expect(throws: BodyReplayError.self) { _ = try await Self.drain(pipe) }
    }

    @Test func closingTheConsumerReleasesABlockedSenderAndAWaitingReader() async throws {
        let pipe = BodyPipe(highWatermark: 4)
        let first = Task { await pipe.send(Self.buffer(10)) }  // over the watermark: waits for the reader
        var it = PipeBody(pipe: pipe).makeAsyncIterator()
        #expect(try await it.next()?.readableBytes == 10)
        #expect(await first.value)  // released by the read
        let blocked = Task { await pipe.send(Self.buffer(10)) }  // nobody reads it
        pipe.closeConsumer()
        #expect(await blocked.value == false)
        #expect(await pipe.send(Self.buffer(1)) == false)
        await #expect(throws: CancellationError.self) { _ = try await it.next() }
    }

    @Test func theFinalBufferIsHeldUntilTheDigestMatches() async throws {
        let parts = [Self.buffer(100, 1), Self.buffer(100, 2), Self.buffer(7, 3)]
        let all = parts.flatMap { Array($0.readableBytesView) }
        // a wrong declared sha256: the upstream gets everything but the last buffer, then the error
        let wrong = BodyPipe()
        let tap = BodyTap(declaredSHA256: String(repeating: "0", count: 64))
        let pump = Task { await BodyPump.run(RequestBody(asyncSequence: Agent(parts: parts)),
                                             transform: BodyTransform(tap: tap, decoder: nil), pipe: wrong) }
        var received: [UInt8] = []
        await #expect(throws: AWSAuthError.self) {
            for try await b in PipeBody(pipe: wrong) { received += b.readableBytesView }
        }
        #expect(await pump.value == .complete)
        #expect(received == Array(all.prefix(200)))
        #expect(tap.failure?.code == "XAmzContentSHA256Mismatch")
        // the right one: everything, then the end
        let right = BodyPipe()
        let good = BodyTap(declaredSHA256: Hex.encode(SHA256.hash(all)))
        let pump2 = Task { await BodyPump.run(RequestBody(asyncSequence: Agent(parts: parts)),
                                              transform: BodyTransform(tap: good, decoder: nil), pipe: right) }
        #expect(try await Self.drain(right) == all)
        #expect(await pump2.value == .complete)
        #expect(good.failure == nil && good.byteCount == all.count)
    }

    @Test func theRestOfTheBodyIsDrainedAfterTheConsumerLeaves() async throws {
        let parts = (0..<10).map { _ in Self.buffer(1000) }
        let pipe = BodyPipe(highWatermark: 1500)
        let tap = BodyTap(declaredSHA256: nil)
        let pump = Task { await BodyPump.run(RequestBody(asyncSequence: Agent(parts: parts)),
                                             transform: BodyTransform(tap: tap, decoder: nil), pipe: pipe) }
        var it = PipeBody(pipe: pipe).makeAsyncIterator()
        #expect(try await it.next()?.readableBytes == 1000)
        // the upstream answered: the pump reads the agent's body to its end, forwarding nothing more
        let ended = await BodyPump.settle(pump, pipe: pipe, channel: nil)
        #expect(ended == false)
        #expect(await pump.value == .complete)
    }
}
