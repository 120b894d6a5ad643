import CTallyShim

/// Recognises events which are already in canonical form, so that `ledger append` can copy them
/// verbatim instead of rebuilding them byte by byte. Tally's own producers (the gateway, ingest,
/// reviews) write canonical JSON, so this is the common case.
///
/// The check (`tally_is_canonical_event`, C with SSE2: a vector pass rejects escapes, control and
/// non-ASCII bytes anywhere, then a structural pass finds closing quotes sixteen bytes at a time) is
/// conservative: `true` means the input is a valid event whose canonical form is exactly the input
/// bytes; `false` means only "take the full canonicaliser" (which then either rebuilds the canonical
/// form or rejects the input with its precise error). Inputs with escapes, non-ASCII bytes,
/// exponents, whitespace or nesting deeper than the parser's limit always take the full path.
enum CanonicalEventCheck {
    /// True when `input` is an event object (with a string "type") already in canonical form.
    static func isCanonicalEvent(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = input.baseAddress else { return false }
        return tally_is_canonical_event(base, input.count, Int32(JSONScanner.maxDepth)) != 0
    }
}
