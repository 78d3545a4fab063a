/// A topic template and the format of the payloads published under it.
public struct TopicRoute: Hashable, Sendable {
    public var template: TopicTemplate
    public var format: PayloadFormat

    public init(template: TopicTemplate, format: PayloadFormat) {
        self.template = template
        self.format = format
    }

    /// Parses the template; the format defaults to a bare number where the template names the metric,
    /// JSON otherwise.
    public init(_ template: String, format: PayloadFormat? = nil) throws(TopicTemplateError) {
        let parsed = try TopicTemplate(template)
        self.init(template: parsed, format: format ?? (parsed.namesMetric ? .number : .json))
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

    public init(routeIndex: Int = 0, format: PayloadFormat, device: String, metric: String? = nil, tags: [Tag] = []) {
        self.routeIndex = routeIndex
        self.format = format
        self.device = device
        self.metric = metric
        self.tags = tags
    }
}
