/// The settings that shape a processor's output, as the JSON stored with its version in `versions`:
/// a replay into an existing version must use the same ones.
extension ProcessorConfiguration {
    public func outputSettingsJSON(for role: ProcessorRole) -> String {
        switch role {
        case .rollups:
            return "{\"rollup_widths\": [\(rollupWidths.map(String.init).joined(separator: ", "))]}"
        case .devices:
            return "{\"offline_after_seconds\": \(deviceOfflineAfter.components.seconds)}"
        case .archive:
            return "{\"retention_seconds\": \(archiveRetention.map { String($0.components.seconds) } ?? "null")}"
        case .deadLetters:
            return "{}"
        case .anomalies:
            // The same shape as the configuration file's anomaly section, every effective default spelled out.
            return AnomalyConfigurationFile(anomalies).json
        }
    }
}
