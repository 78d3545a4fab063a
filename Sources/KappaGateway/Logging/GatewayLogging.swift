import Logging

/// The process-wide log handler of `kappa run`: text or JSON lines on stderr, at the configured level.
public enum GatewayLogging {
    /// Once per process, before the first `Logger` is made (swift-log allows a single bootstrap).
    public static func bootstrap(level: Logger.Level, format: GatewaySettings.LogFormat) {
        LoggingSystem.bootstrap { label in handler(label: label, level: level, format: format) }
    }

    static func handler(label: String, level: Logger.Level, format: GatewaySettings.LogFormat) -> any LogHandler {
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
