import Foundation

/// A fresh directory under the system temporary directory.
public enum TemporaryDirectory {
    public static func make(prefix: String, in parent: String = NSTemporaryDirectory()) throws -> String {
        var template = Array((parent + "/\(prefix)-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw TestEnvironmentError.commandFailed(command: "mkdtemp", output: String(cString: strerror(errno)))
        }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    public static var runningAsRoot: Bool { geteuid() == 0 }
}
