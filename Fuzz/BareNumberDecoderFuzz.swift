import KappaCore

/// The bare-number decoder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBareNumberDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDecode(data, size, match: TopicMatch(format: .number, device: "d1", metric: "temperature"))
    return 0
}
