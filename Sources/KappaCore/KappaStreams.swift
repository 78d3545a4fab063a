/// The streams of the log and what their records hold: the contract between the MQTT bridge that writes
/// them and the processors that read them.
///
/// - `readings`: key = device id (UTF-8), event time = the reading's time, value = `ReadingRecord` bytes.
///   Partitioned by the device id, so one device's readings stay in order.
/// - `dead-letters`: key = the MQTT topic (UTF-8), event time = receive time, value = `DeadLetterRecord` bytes.
public enum KappaStreams {
    public static let readings = "readings"
    public static let deadLetters = "dead-letters"
    /// Partitions of a new `readings` stream (fixed once created).
    public static let defaultReadingPartitions = 8
    /// Partitions of a new `dead-letters` stream: little traffic, order across topics does not matter.
    public static let defaultDeadLetterPartitions = 1
}
