import Foundation
public import KappaStream

/// Reads the settings JSON recorded with an output version (Foundation is fine: once per processor start).
enum OutputSettingsJSON {
    static func object(_ json: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
    }
}

extension ProcessorConfiguration {
    /// The settings that shape `role`'s output, as the JSON stored with its version in `versions`: a replay
    /// into an existing version must use the same ones.
    public func outputSettingsJSON(for role: ProcessorRole) -> String {
        role.descriptor.outputSettingsJSON(self)
    }

    /// Applies the settings JSON recorded with an output version (see ``outputSettingsJSON(for:)``).
    public mutating func apply(outputSettings json: String, for role: ProcessorRole) {
        role.descriptor.applyOutputSettings(&self, json)
    }
}
