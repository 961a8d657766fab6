/**
 * A self-signed certificate for `localhost`, 127.0.0.1 and ::1 (P-256, valid until 2126), for the fake
 * MX's STARTTLS in tests. Bundled rather than generated at start: node:crypto makes keys but not X.509
 * certificates, and generating one would need the openssl binary or a dependency. Its private key is
 * public: never use it outside tests (give `tls: { key, cert }` instead).
 */

/** PEM private key of {@link TEST_CERTIFICATE}. */
export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/XgNqYjBB1pHs0fj
lRqmEGUhBwjfOpZAkPXrys3fZ0KhRANCAATxwXQqe5reQ0cJFcgRxeBwrDkHSTsX
tdv4LwmDw0Q0i5r/j1nePbmbFB4x/ZepNbdy7w1o/pVP04kRilkLnSAw
-----END PRIVATE KEY-----
`;

/**
 * PEM certificate (self-signed, CN=localhost). Clients must trust it explicitly (`ca: TEST_CERTIFICATE`)
 * or not verify it (nodemailer `tls: { rejectUnauthorized: false }`).
 *
 * @example
 * ```ts
 * nodemailer.createTransport({ host: mx.host, port: mx.port, requireTLS: true, tls: { ca: TEST_CERTIFICATE, servername: 'localhost' } })
 * ```
 */
export const TEST_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBrzCCAVSgAwIBAgIUYiMLNR1XEJJjPRaB39mFQa15ChgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMjA5NTM1MFoYDzIxMjYxMTA4
MDk1MzUwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATxwXQqe5reQ0cJFcgRxeBwrDkHSTsXtdv4LwmDw0Q0i5r/j1nePbmb
FB4x/ZepNbdy7w1o/pVP04kRilkLnSAwo4GBMH8wHQYDVR0OBBYEFHJzJ8m04PGr
O7gZY6DZXZ8ovwjzMB8GA1UdIwQYMBaAFHJzJ8m04PGrO7gZY6DZXZ8ovwjzMA8G
A1UdEwEB/wQFMAMBAf8wLAYDVR0RBCUwI4IJbG9jYWxob3N0hwR/AAABhxAAAAAA
AAAAAAAAAAAAAAABMAoGCCqGSM49BAMCA0kAMEYCIQCCEBQek+9fvDM85EfMDu7R
TJpuVralScs0vCzqvA6RZwIhAL7g265yprU0WBvT6SWPCx2YJe71Z714TCZj+LKW
CIQx
-----END CERTIFICATE-----
`;
