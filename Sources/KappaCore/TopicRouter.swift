/// Picks, for a concrete topic, the most specific of several routes.
///
/// Specificity is decided level by level from the left: a literal beats a `{name}` capture, which beats a
/// `{name...}` rest-capture; the first level that differs decides. So with the default routes,
/// `devices/d1/telemetry` is JSON telemetry (literal `telemetry`) and `devices/d1/temperature` is the bare
/// number of metric `temperature`. Routes equally specific for a topic keep the order they were given in.
public struct TopicRouter: Sendable {
    /// The routes as given.
    public let routes: [TopicRoute]
    /// Route indices, most specific first; the first route that matches is the most specific match.
    private let order: [Int]

    public init(routes: [TopicRoute]) {
        self.routes = routes
        self.order = routes.indices.sorted { lhs, rhs in
            let left = routes[lhs].template.specificityRanks, right = routes[rhs].template.specificityRanks
            return left.lexicographicallyPrecedes(right) || (left == right && lhs < rhs)
        }
    }

    /// The route for `topic` and what its levels name, or nil (`unknown_topic`) where no template fits.
    public func match(topic: String) -> TopicMatch? {
        var topic = topic
        return topic.withUTF8 { match(topicBytes: UnsafeRawBufferPointer($0)) }
    }

    /// As `match(topic:)`, on the topic's UTF-8 bytes.
    public func match(topicBytes: UnsafeRawBufferPointer) -> TopicMatch? {
        let levels = TopicLevels(topicBytes)
        for index in order {
            let route = routes[index]
            if let captures = route.template.match(levels) {
                return TopicMatch(
                    routeIndex: index, format: route.format,
                    device: captures.device, metric: captures.metric, tags: captures.tags,
                    lineProtocolDeviceTag: route.lineProtocolDeviceTag, mapping: route.mapping
                )
            }
        }
        return nil
    }

    /// The filters to subscribe to so that each message any route can match is delivered exactly once.
    /// See `SubscriptionPlan.init(filters:)`.
    public var subscriptionPlan: SubscriptionPlan {
        SubscriptionPlan(filters: routes.map(\.template.subscriptionFilter))
    }
}

extension TopicTemplate {
    /// 0 for a literal level, 1 for a capture, 2 for a rest-capture: lexicographically smaller is more specific.
    var specificityRanks: [Int] {
        levels.map { level in
            switch level {
            case .literal: 0
            case .capture: 1
            case .captureRest: 2
            }
        }
    }
}
