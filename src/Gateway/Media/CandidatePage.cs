using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Extensions;

namespace VoiceActors.Gateway.Media;

/// <summary>
/// The candidate's web page (plain HTML and JavaScript) and the <c>livekit-client</c> bundle it loads, both embedded in this
/// assembly so every HTTP front serves them. The bundle comes from the pinned npm package at build time (src/media/Media.targets).
/// </summary>
public static class CandidatePage
{
    public const string AssetsPrefix = "/interview-assets/";
    private const string BundleTag = "<script src=\"{{LIVEKIT_CLIENT_SRC}}\"></script>";

    /// <summary>The bundle and its content-addressed path (<c>null</c> when the build had no npm: the page then uses the media socket).</summary>
    private static readonly Lazy<(byte[] Bytes, string Path, string ETag)?> Bundle = new(() =>
    {
        if (Read("VoiceActors.Gateway.Media.livekit-client.umd.js") is not { } js) return null;
        var hash = Convert.ToHexStringLower(SHA256.HashData(js));
        return (js, $"{AssetsPrefix}livekit-client.{hash[..16]}.js", $"\"{hash}\"");
    });

    private static readonly Lazy<byte[]> Html = new(() =>
    {
        var html = Encoding.UTF8.GetString(Read("VoiceActors.Gateway.Media.candidate.html")
            ?? throw new InvalidOperationException("The candidate page is missing from the gateway assembly."));
        // No bundle: no script tag, and the page falls back to the media socket.
        var tag = Bundle.Value is { } bundle ? $"<script src=\"{bundle.Path}\"></script>" : "";
        return Encoding.UTF8.GetBytes(html.Replace(BundleTag, tag, StringComparison.Ordinal));
    });

    public const string Route = "/interview/{id}";

    /// <summary>
    /// The absolute link a candidate opens: this request's scheme, host and path base, then <c>/interview/{id}#token=…</c>.
    /// The token is in the fragment so it never reaches a server log, a proxy or a <c>Referer</c>.
    /// </summary>
    public static string UrlFor(HttpRequest request, string id, string token) =>
        UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, Route.Replace("{id}", id, StringComparison.Ordinal))
        + "#token=" + Uri.EscapeDataString(token);

    /// <summary>Whether this build carries livekit-client (it does whenever npm was present at build time).</summary>
    public static bool HasLiveKitClient => Bundle.Value is not null;


    /// <summary><c>GET /interview/{id}</c>; the token travels in the URL fragment (<c>#token=…</c>), which browsers never send.</summary>
    public static IResult Serve(string id, HttpContext http)
    {
        if (!Sessions.SessionIds.IsValid(id))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such interview", detail: "Interview links end in a 32-character id.");
        http.Response.Headers.CacheControl = "no-store";
        // connect-src admits any ws/http origin: the LiveKit URL is per region and changes on failover, and the page reads it at run time.
        // The page names an empty data: icon, or browsers ask for /favicon.ico on their own and get a 404.
        http.Response.Headers["Content-Security-Policy"] = "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src blob:; " +
            "connect-src 'self' ws: wss: http: https:; media-src 'self' blob: mediastream:; style-src 'unsafe-inline'; img-src 'self' data:";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        return Results.Bytes(Html.Value, "text/html; charset=utf-8");
    }

    /// <summary><c>GET /interview-assets/{file}</c>: the bundle under a content hash, so it is cached for a year and never stale.</summary>
    public static IResult ServeAsset(string file, HttpContext http)
    {
        if (Bundle.Value is not { } bundle || !string.Equals(AssetsPrefix + file, bundle.Path, StringComparison.Ordinal))
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such asset",
                detail: "Candidate page assets are named by their content hash; reload the interview page for the current one.");
        http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
        http.Response.Headers.ETag = bundle.ETag;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        if (http.Request.Headers.IfNoneMatch == bundle.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(bundle.Bytes, "text/javascript; charset=utf-8");
    }

    private static byte[]? Read(string name)
    {
        using var stream = typeof(CandidatePage).Assembly.GetManifestResourceStream(name);
        if (stream is null) return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
