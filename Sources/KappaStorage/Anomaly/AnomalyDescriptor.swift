import KappaStream

extension ProcessorDescriptor {
    public static let anomalies = ProcessorDescriptor(
        name: "anomalies",
        tables: ["anomalies", "anomaly_state", "anomaly_device_state"],
        views: ["anomalies", "open_anomalies"],
        // The same shape as the configuration file's anomaly section, every effective default spelled out.
        outputSettingsJSON: { AnomalyConfigurationFile($0.anomalies).json },
        applyOutputSettings: { configuration, json in
            if let recorded = try? AnomalyConfigurationFile(json: json).configuration() {
                configuration.anomalies = recorded
            }
        },
        makeWriter: { schema, version, _ in AnomalyWriter(schema: schema, version: version) },
        makeProcessor: { partitions, context in
            AnomalyProcessor(
                partitionCount: partitions, duplicateWindowRecords: context.configuration.duplicateWindowRecords,
                settings: context.configuration.anomalies, alertSink: context.alertSink,
                memory: context.configuration.seriesMemory
            )
        }
    )
}
