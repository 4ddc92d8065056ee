using Microsoft.AspNetCore.Http.Extensions;

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

    public const string Route = "/interview/{id}";

    /// <summary>
    /// The absolute link a candidate opens: this request's scheme, host and path base, then <c>/interview/{id}#token=…</c>.
    /// The token is in the fragment so it never reaches a server log, a proxy or a <c>Referer</c>.
    /// </summary>
    public static string UrlFor(HttpRequest request, string id, string token) =>
        UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, Route.Replace("{id}", id, StringComparison.Ordinal))
        + "#token=" + Uri.EscapeDataString(token);

    /// <summary><c>GET /interview/{id}</c>; the token travels in the URL fragment (<c>#token=…</c>), which browsers never send.</summary>
    public static IResult Serve(string id, HttpContext http)
    {
        if (!Sessions.SessionIds.IsValid(id))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such interview", detail: "Interview links end in a 32-character id.");
        http.Response.Headers.CacheControl = "no-store";
        // The page names an empty data: icon, or browsers ask for /favicon.ico on their own and get a 404.
        http.Response.Headers["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline' blob:; worker-src blob:; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        return Results.Bytes(Html.Value, "text/html; charset=utf-8");
    }
}
