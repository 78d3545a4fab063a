/// Metadata keys of the log's log lines, in one place so dashboards can rely on them.
enum LoggingKeys {
    static let stream = "kappa.stream"
    static let partition = "kappa.partition"
    static let segment = "kappa.segment"
    static let offset = "kappa.offset"
    static let position = "kappa.position"
    static let bytes = "kappa.bytes"
    static let error = "kappa.error"
}
