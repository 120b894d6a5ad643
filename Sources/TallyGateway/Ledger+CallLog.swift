import TallyCore
import TallyLedger

/// The gateway records into the tamper-evident ledger.
extension Ledger: CallLog {}
