import KappaCore

/// The line protocol decoder, with the `device` tag ignored (the default) and trusted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineProtocolDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDecode(data, size, match: TopicMatch(format: .lineProtocol, device: "d1", tags: [Tag(key: "site", value: "s1")]))
    fuzzDecode(data, size, match: TopicMatch(format: .lineProtocol, device: "d1", lineProtocolDeviceTag: true))
    return 0
}
