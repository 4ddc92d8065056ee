namespace VoiceActors.LiveKit;

/// <summary>
/// The one reading of <c>Authorization: Bearer &lt;token&gt;</c> (RFC 6750; the scheme is case-insensitive). It lives in the
/// lowest library every host references, so LiveKit's own callers, the media socket and the API-key handlers share it.
/// </summary>
public static class BearerToken
{
    public const string Scheme = "Bearer";

    /// <summary>The token after <c>Bearer </c>, trimmed; null when the header is absent or names another scheme.</summary>
    public static string? From(string? authorization)
    {
        var header = authorization.AsSpan().Trim();
        if (header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || header[Scheme.Length] != ' ')
            return null;
        return header[(Scheme.Length + 1)..].Trim().ToString();
    }
}
