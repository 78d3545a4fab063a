/// The streams of the log and what their records hold: the contract between the MQTT bridge that writes
/// them and the processors that read them.
///
/// - `readings`: key = device id (UTF-8), event time = the reading's time, value = `ReadingRecord` bytes.
///   Partitioned by the device id, so one device's readings stay in order.
/// - `dead-letters`: key = the MQTT topic (UTF-8), event time = receive time, value = `DeadLetterRecord` bytes.
/// - `sparkplug-lifecycle` (only with Sparkplug on): every NBIRTH, DBIRTH, NDEATH and DDEATH the bridge
///   received, key = the edge node's device id `{group}/{edge node}` (UTF-8), event time = receive time,
///   value = `SparkplugLifecycleRecord` bytes (the raw message and the status changes it made). Keyed by edge
///   node so one node's certificates stay in order; appended in the same burst commit as the readings they
///   produce, before those are acknowledged. The bridge rebuilds its alias state from it at start; the
///   device registry reads the status changes.
public enum KappaStreams {
    public static let readings = "readings"
    public static let deadLetters = "dead-letters"
    /// Partitions of a new `readings` stream (fixed once created).
    public static let defaultReadingPartitions = 8
    /// Partitions of a new `dead-letters` stream: little traffic, order across topics does not matter.
    public static let defaultDeadLetterPartitions = 1
    public static let sparkplugLifecycle = "sparkplug-lifecycle"
    /// Partitions of a new `sparkplug-lifecycle` stream: births are rare, but edge nodes restore and register
    /// in parallel across partitions.
    public static let defaultSparkplugLifecyclePartitions = 4
}
