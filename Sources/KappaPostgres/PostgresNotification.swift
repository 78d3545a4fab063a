/// One `NOTIFY` (or `pg_notify`) received on a channel this session listens to.
public struct PostgresNotification: Hashable, Sendable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var processID: Int32

    public init(channel: String, payload: String, processID: Int32) {
        self.channel = channel
        self.payload = payload
        self.processID = processID
    }
}
