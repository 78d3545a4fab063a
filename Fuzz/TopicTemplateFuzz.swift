import KappaCore

/// Topic templates: the input's first line is parsed as a template, each further line is matched as a
/// topic against it (alone and in a router beside the defaults).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopicTemplate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let first = lines.first else { return 0 }
    guard let template = try? TopicTemplate(first) else { return 0 }
    precondition(!template.subscriptionFilter.isEmpty, "an accepted template has no subscription filter")
    let router = TopicRouter(routes: [TopicRoute(template: template, format: .json)] + TopicRoute.defaults)
    _ = router.subscriptionPlan
    for topic in lines.dropFirst() {
        if let captures = template.match(topic: topic) {
            precondition(!captures.device.isEmpty, "a template matched an empty device")
            precondition(captures.tags.map(\.key) == captures.tags.map(\.key).sorted(), "tags are not sorted by key")
            precondition(router.match(topic: topic) != nil, "the router missed a topic its template matches")
        }
        _ = router.match(topic: topic)
    }
    return 0
}
