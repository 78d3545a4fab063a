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

    public init(device: String, metric: String, time: Timestamp, value: Double, timeSource: TimeSource = .device, tags: [Tag] = [], unit: String? = nil) {
        self.device = device
        self.metric = metric
        self.time = time
        self.value = value
        self.timeSource = timeSource
        self.tags = tags
        if let unit { self.unit = unit }
    }

    /// The metric's unit (`°C`), as a route's payload mapping gives it: the tag `unit`. A tag, so that it
    /// travels wherever tags go (the log record, the devices view) and costs nothing to readings without
    /// one (a stored field made every reading larger, and decoding measurably slower).
    public var unit: String? {
        get { tags.first { $0.key == Tag.unitKey }?.value }
        set {
            tags.removeAll { $0.key == Tag.unitKey }
            guard let newValue else { return }
            let position = tags.firstIndex { $0.key > Tag.unitKey } ?? tags.endIndex
            tags.insert(Tag(key: Tag.unitKey, value: newValue), at: position)
        }
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
    /// The tag that holds a reading's unit (``Reading/unit``).
    public static let unitKey = "unit"

    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
