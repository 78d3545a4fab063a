/// Turns a numeric `ts` into a `Timestamp`, guessing its unit from its magnitude.
///
/// Thresholds on the absolute value: below 10^11 it is seconds (10^11 s is the year 5138), below 10^14
/// milliseconds, below 10^17 microseconds, otherwise nanoseconds. So any date from 1973-03-03 to 5138 is
/// read right in every unit; millisecond timestamps before 1973-03-03 would be misread as seconds.
/// Fractions are kept down to the nanosecond (truncated below it).
enum EpochTimestamp {
    static func timestamp(from number: DecimalNumber) -> Timestamp? {
        let digits = number.integerDigitCount
        let scale = digits <= 11 ? 9 : digits <= 14 ? 6 : digits <= 17 ? 3 : 0
        return number.int64Value(scaledBy: scale).map { Timestamp(nanosecondsSinceEpoch: $0) }
    }
}
