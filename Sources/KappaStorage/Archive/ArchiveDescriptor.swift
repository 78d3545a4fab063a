import Foundation
import KappaStream

extension ProcessorDescriptor {
    public static let archive = ProcessorDescriptor(
        name: "archive",
        tables: ["readings"],
        views: ["readings"],
        outputSettingsJSON: { "{\"retention_seconds\": \($0.archiveRetention.map { String($0.components.seconds) } ?? "null")}" },
        applyOutputSettings: { configuration, json in
            guard let object = OutputSettingsJSON.object(json) else { return }
            if object.keys.contains("retention_seconds") {
                configuration.archiveRetention = (object["retention_seconds"] as? NSNumber).map { .seconds($0.int64Value) }
            }
        },
        makeWriter: { schema, version, _ in ArchiveWriter(schema: schema, version: version) },
        makeProcessor: { partitions, context in
            ArchiveProcessor(
                partitionCount: partitions, duplicateWindowRecords: context.configuration.duplicateWindowRecords,
                settings: context.configuration.archive, memory: context.configuration.seriesMemory
            )
        }
    )
}
