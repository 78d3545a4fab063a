/// The data types of the specification (chapter 6.4.16), by their wire numbers.
public enum SparkplugDataType: UInt32, Sendable {
    case int8 = 1, int16, int32, int64, uInt8, uInt16, uInt32, uInt64, float, double, boolean, string, dateTime,
         text, uuid, dataSet, bytes, file, template, propertySet, propertySetList
    case int8Array = 22, int16Array, int32Array, int64Array, uInt8Array, uInt16Array, uInt32Array, uInt64Array,
         floatArray, doubleArray, booleanArray, stringArray, dateTimeArray

    var name: String { "\(self)" }
}
