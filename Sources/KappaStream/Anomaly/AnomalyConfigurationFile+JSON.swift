import Foundation

/// The configuration as the JSON recorded with an anomaly output version, and back.
///
/// Foundation is fine here: this runs when a version is created or a processor starts, not per reading.
extension AnomalyConfigurationFile {
    /// Sorted keys, so equal configurations record equal text.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding string keys and finite numbers cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public init(json: String) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(json.utf8))
    }
}
