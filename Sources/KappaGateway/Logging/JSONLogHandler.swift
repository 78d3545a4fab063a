import Foundation
import KappaCore
import KappaStream
import Logging

/// `--log-format json`: one JSON object a line on stderr, for log shippers (journald, Loki, Fluent Bit):
/// `{"time":"…","level":"info","label":"kappa","message":"…","kappa.role":"…"}`. Metadata keys are kept
/// as they are, so the same keys can be searched in either format.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let explicit = event.metadata { fields.merge(explicit) { _, new in new } }
        let level = event.level
        let message = event.message
        var text = "{\"time\":"
        Self.appendString(Timestamp.now().description, to: &text)
        text += ",\"level\":"
        Self.appendString(level.rawValue, to: &text)
        text += ",\"label\":"
        Self.appendString(label, to: &text)
        text += ",\"message\":"
        Self.appendString(message.description, to: &text)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !["time", "level", "label", "message"].contains(key) {
            text += ","
            Self.appendString(key, to: &text)
            text += ":"
            Self.appendString(value.description, to: &text)
        }
        write(text + "}\n")
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ value: String, to text: inout String) {
        JSONText.appendString(value, to: &text)
    }

    /// One write(2) per line, so lines of concurrent threads do not interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
