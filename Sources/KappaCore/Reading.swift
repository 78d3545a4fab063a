/// One measurement: what a device said a metric was at a time.
public struct Reading: Hashable, Sendable {
    public var device: String
    public var metric: String
    /// Event time: from the payload where it had one, else the gateway's receive time (see `timeSource`).
    public var time: Timestamp
    public var value: Double
    public var timeSource: TimeSource
    /// Topic parts other than device and metric (for example `site`), sorted by key.
    public var tags: [Tag]
    /// The unit a route's payload mapping gives the metric (`°C`), kept with the reading; nil: none given.
    public var unit: String?

    public init(device: String, metric: String, time: Timestamp, value: Double, timeSource: TimeSource = .device, tags: [Tag] = [], unit: String? = nil) {
        self.device = device
        self.metric = metric
        self.time = time
        self.value = value
        self.timeSource = timeSource
        self.tags = tags
        self.unit = unit
    }
}

/// Where a reading's event time came from.
public enum TimeSource: UInt8, Hashable, Sendable {
    /// The payload carried a timestamp.
    case device = 0
    /// The payload had none; the gateway's receive time stands in.
    case received = 1
}

/// A named topic part that is neither the device nor the metric.
public struct Tag: Hashable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
