import KappaCore

/// The JSON telemetry decoder, on a template without `{metric}` (objects and batches).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzDecode(data, size, match: TopicMatch(format: .json, device: "d1", tags: [Tag(key: "site", value: "s1")]))
    // And on a template that names the metric, where bare JSON values are accepted too.
    fuzzDecode(data, size, match: TopicMatch(format: .json, device: "d1", metric: "m"))
    return 0
}
