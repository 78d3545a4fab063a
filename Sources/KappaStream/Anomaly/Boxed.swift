/// A value that is rarely present, kept behind a reference: the struct that may hold it pays for a pointer, not
/// for the value, while it is absent. Immutable, so copies of the holder share it safely; setting a new value
/// allocates a new box, which values as rare as open episodes can afford.
final class Boxed<Value: Sendable>: Sendable {
    let value: Value

    init(_ value: Value) { self.value = value }
}
