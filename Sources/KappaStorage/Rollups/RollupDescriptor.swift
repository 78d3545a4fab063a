import Foundation
import KappaStream

extension ProcessorDescriptor {
    public static let rollups = ProcessorDescriptor(
        name: "rollups",
        tables: ["rollups", "rollup_series"],
        views: ["rollups_1m", "rollups_1h", "rollups_1d", "rollups"],
        outputSettingsJSON: { "{\"rollup_widths\": [\($0.rollupWidths.map(String.init).joined(separator: ", "))]}" },
        applyOutputSettings: { configuration, json in
            guard let object = OutputSettingsJSON.object(json) else { return }
            // Widths set explicitly stay: the writer then refuses a version built with others, rather than the
            // gateway silently running with widths it was not given.
            if let widths = object["rollup_widths"] as? [NSNumber], !widths.isEmpty, !configuration.rollupWidthsGiven {
                configuration.rollupWidths = widths.map(\.int64Value)
            }
        },
        makeWriter: { schema, version, configuration in
            RollupWriter(schema: schema, version: version, retention: configuration.rollupRetention, tagColumns: configuration.rollupTagColumns)
        },
        makeProcessor: { partitions, context in
            RollupProcessor(
                widths: context.configuration.rollups.widths, partitionCount: partitions,
                duplicateWindowRecords: context.configuration.duplicateWindowRecords,
                tagKeys: context.configuration.rollupTagColumns, memory: context.configuration.seriesMemory
            )
        }
    )
}
