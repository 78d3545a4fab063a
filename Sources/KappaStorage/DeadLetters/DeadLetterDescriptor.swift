import KappaCore
import KappaStream

extension ProcessorDescriptor {
    public static let deadLetters = ProcessorDescriptor(
        name: "dead-letters",
        streamName: KappaStreams.deadLetters,
        defaultPartitions: KappaStreams.defaultDeadLetterPartitions,
        tables: ["dead_letters"],
        views: ["dead_letters"],
        makeWriter: { schema, version, configuration in DeadLetterWriter(schema: schema, version: version, retention: configuration.deadLetterRetention) },
        makeProcessor: { _, _ in DeadLetterProcessor() }
    )
}
