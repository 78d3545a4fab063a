import KappaCore
import KappaStream

extension ProcessorDescriptor {
    public static let deadLetters = ProcessorDescriptor(
        name: "dead-letters",
        streamName: KappaStreams.deadLetters,
        defaultPartitions: KappaStreams.defaultDeadLetterPartitions,
        tables: ["dead_letters"],
        views: ["dead_letters"],
        makeWriter: { DeadLetterWriter(schema: $0, version: $1) },
        makeProcessor: { _, _ in DeadLetterProcessor() }
    )
}
