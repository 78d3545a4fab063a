import Foundation

/// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl command.
public struct TestCertificates: Sendable {
    public var caCertificate: String
    public var caKey: String
    public var serverCertificate: String
    public var serverKey: String
    public var clientCertificate: String
    public var clientKey: String

    public static func make(in directory: String) throws -> TestCertificates {
        let openssl = "/usr/bin/openssl"
        guard FileManager.default.isExecutableFile(atPath: openssl) else { throw TestEnvironmentError.missingTool("openssl") }
        let ca = "\(directory)/ca"
        let server = "\(directory)/server"
        try run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Kappa Test CA",
                          "-keyout", "\(ca).key", "-out", "\(ca).crt"])
        try run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                          "-keyout", "\(server).key", "-out", "\(server).csr"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(server).ext", atomically: true, encoding: .utf8)
        try run(openssl, ["x509", "-req", "-in", "\(server).csr", "-CA", "\(ca).crt", "-CAkey", "\(ca).key", "-CAcreateserial",
                          "-days", "2", "-extfile", "\(server).ext", "-out", "\(server).crt"])
        let client = "\(directory)/client"
        try run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kappa-test-client",
                          "-keyout", "\(client).key", "-out", "\(client).csr"])
        try run(openssl, ["x509", "-req", "-in", "\(client).csr", "-CA", "\(ca).crt", "-CAkey", "\(ca).key", "-CAcreateserial",
                          "-days", "2", "-out", "\(client).crt"])
        return TestCertificates(
            caCertificate: "\(ca).crt", caKey: "\(ca).key", serverCertificate: "\(server).crt", serverKey: "\(server).key",
            clientCertificate: "\(client).crt", clientKey: "\(client).key"
        )
    }
}
