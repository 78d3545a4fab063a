/// A topic template and the format of the payloads published under it.
public struct TopicRoute: Hashable, Sendable {
    public var template: TopicTemplate
    public var format: PayloadFormat
    /// Whether a line protocol `device` tag names the reading's device instead of the topic's `{device}`.
    /// Off by default: a publisher's topic ACL then bounds the devices it can write for. Turn it on only
    /// for a route whose publishers (a trusted aggregator) speak for many devices on one topic.
    public var lineProtocolDeviceTag: Bool
    /// For a JSON route: where its payloads keep readings, time, device and tags (docs/payload-mapping.md).
    /// nil: Kappa's own shape, decoded in one pass.
    public var mapping: PayloadMapping?

    public init(template: TopicTemplate, format: PayloadFormat, lineProtocolDeviceTag: Bool = false, mapping: PayloadMapping? = nil) {
        self.template = template
        self.format = format
        self.lineProtocolDeviceTag = lineProtocolDeviceTag
        self.mapping = mapping
    }

    /// Parses the template; the format defaults to a bare number where the template names the metric,
    /// JSON otherwise.
    public init(_ template: String, format: PayloadFormat? = nil, lineProtocolDeviceTag: Bool = false, mapping: PayloadMapping? = nil) throws(TopicTemplateError) {
        let parsed = try TopicTemplate(template)
        self.init(template: parsed, format: format ?? (parsed.namesMetric ? .number : .json), lineProtocolDeviceTag: lineProtocolDeviceTag, mapping: mapping)
    }

    /// The two default shapes (README, "Topics"): JSON telemetry and one bare number per metric topic.
    public static let defaults: [TopicRoute] = [
        try! TopicRoute("devices/{device}/telemetry", format: .json),
        try! TopicRoute("devices/{device}/{metric}", format: .number),
    ]
}

/// A topic matched to its route: what the payload decoder needs.
public struct TopicMatch: Hashable, Sendable {
    /// Position of the route in the router's list as it was given.
    public var routeIndex: Int
    public var format: PayloadFormat
    public var device: String
    public var metric: String?
    /// Sorted by key.
    public var tags: [Tag]
    /// The route's `lineProtocolDeviceTag`.
    public var lineProtocolDeviceTag: Bool
    /// The route's payload mapping.
    public var mapping: PayloadMapping?

    public init(routeIndex: Int = 0, format: PayloadFormat, device: String, metric: String? = nil, tags: [Tag] = [], lineProtocolDeviceTag: Bool = false, mapping: PayloadMapping? = nil) {
        self.routeIndex = routeIndex
        self.format = format
        self.device = device
        self.metric = metric
        self.tags = tags
        self.lineProtocolDeviceTag = lineProtocolDeviceTag
        self.mapping = mapping
    }
}
