import Foundation
import KappaStream

extension ProcessorDescriptor {
    public static let devices = ProcessorDescriptor(
        name: "devices",
        tables: ["devices", "device_metrics"],
        views: ["devices", "device_metrics", "latest"],
        outputSettingsJSON: { "{\"offline_after_seconds\": \($0.deviceOfflineAfter.components.seconds)}" },
        applyOutputSettings: { configuration, json in
            guard let object = OutputSettingsJSON.object(json) else { return }
            if let seconds = object["offline_after_seconds"] as? NSNumber {
                configuration.deviceOfflineAfter = .seconds(seconds.int64Value)
            }
        },
        makeWriter: { schema, version, _ in DeviceRegistryWriter(schema: schema, version: version) },
        makeProcessor: { partitions, context in
            DeviceRegistryProcessor(
                partitionCount: partitions, duplicateWindowRecords: context.configuration.duplicateWindowRecords,
                settings: context.configuration.devices, memory: context.configuration.seriesMemory
            )
        }
    )
}
