import KappaCore

/// Kappa as a Sparkplug primary host application: the retained `STATE` message edge nodes watch to know
/// whether the host is online (specification 3.0, 5.4). The birth is published when connected; the same
/// topic with `online: false` is the connection's will, so the broker announces the host's death.
public struct SparkplugHostState: Sendable {
    public var hostID: String

    public init(hostID: String) {
        self.hostID = hostID
    }

    public var topic: String { "\(SparkplugTopic.namespace)/STATE/\(hostID)" }

    /// The JSON payload: `{"online":true|false,"timestamp":<ms>}`. The death's timestamp must be the
    /// birth's, so edge nodes can tell a late will from the current session's.
    public func payload(online: Bool, sessionStart: Timestamp) -> [UInt8] {
        Array("{\"online\":\(online),\"timestamp\":\(sessionStart.nanosecondsSinceEpoch / 1_000_000)}".utf8)
    }
}
