namespace VoiceActors.Gateway.Media;

/// <summary>The candidate's web page (plain HTML and JavaScript, embedded in this assembly so every HTTP front serves it).</summary>
public static class CandidatePage
{
    private static readonly Lazy<byte[]> Html = new(() =>
    {
        using var stream = typeof(CandidatePage).Assembly.GetManifestResourceStream("VoiceActors.Gateway.Media.candidate.html")
            ?? throw new InvalidOperationException("The candidate page is missing from the gateway assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary><c>GET /interview/{id}</c>; the token travels in the URL fragment (<c>#token=…</c>), which browsers never send.</summary>
    public static IResult Serve(string id, HttpContext http)
    {
        if (!Sessions.SessionIds.IsValid(id))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such interview", detail: "Interview links end in a 32-character id.");
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline' blob:; worker-src blob:; connect-src 'self'; style-src 'unsafe-inline'";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        return Results.Bytes(Html.Value, "text/html; charset=utf-8");
    }
}
