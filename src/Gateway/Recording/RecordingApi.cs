using System.Globalization;
using System.Net.Http.Headers;
using VoiceActors.Auth;
using VoiceActors.Gateway.Interviews;
using VoiceActors.Recording;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Recording;

/// <summary>
/// <c>GET /v1/interviews/{id}/recording</c>: the whole interview as one <c>audio/ogg</c> file, streamed from the recording grain
/// piece by piece (decrypted there, never whole in memory here), with single byte ranges (<c>206</c>, <c>416</c> beyond the file).
/// </summary>
public static class RecordingApi
{
    private const int Piece = 256 * 1024;

    public static async Task<IResult> GetRecording(string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return InterviewsApi.MalformedId(id);
        var tenant = http.User.Tenant();
        var grain = grains.GetGrain<IRecordingGrain>(id);
        var file = await grain.Open(tenant, $"api:{tenant}");
        switch (file.Status)
        {
            case RecordingFileStatus.NotFound:
                return Problem(StatusCodes.Status404NotFound, "No recording",
                    $"Interview '{id}' has no recording: it is unknown, not finished, was not consented to, or was deleted by retention.");
            case RecordingFileStatus.Tampered:
                return Problem(StatusCodes.Status502BadGateway, "Recording failed authentication",
                    "A stored recording object failed its integrity check (altered, or sealed under a key this deployment does not hold); nothing was served. The refusal is audited.");
            case RecordingFileStatus.StoreUnavailable:
                return Problem(StatusCodes.Status504GatewayTimeout, "Recording store unavailable",
                    "The recording store did not answer in time; try again later. The failure is audited.");
        }

        var (start, end) = (0L, file.Length - 1);
        var ranged = false;
        if (http.Request.Headers.Range is { Count: > 0 } header)
        {
            if (!TryRange(header.ToString(), file.Length, out start, out end))
            {
                http.Response.Headers.ContentRange = $"bytes */{file.Length}";
                return Problem(StatusCodes.Status416RangeNotSatisfiable, "Range not satisfiable",
                    $"The recording is {file.Length} bytes; ask for one range within bytes=0-{file.Length - 1}.");
            }
            ranged = true;
        }
        return new OggResult(grain, tenant, file.Length, start, end, ranged);
    }

    /// <summary>One range, <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>; several ranges are not served (false).</summary>
    private static bool TryRange(string value, long length, out long start, out long end)
    {
        (start, end) = (0, length - 1);
        if (!RangeHeaderValue.TryParse(value, out var range) || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
            return false;
        var r = range.Ranges.First();
        if (r.From is { } from)
        {
            if (from >= length) return false;
            start = from;
            end = r.To is { } to ? Math.Min(to, length - 1) : length - 1;
            return end >= start;
        }
        if (r.To is not { } suffix || suffix <= 0) return false;
        start = Math.Max(0, length - suffix);
        return true;
    }

    private static IResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);

    private sealed class OggResult(IRecordingGrain grain, string tenant, long length, long start, long end, bool ranged) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            var response = http.Response;
            response.StatusCode = ranged ? StatusCodes.Status206PartialContent : StatusCodes.Status200OK;
            response.ContentType = "audio/ogg";
            response.Headers.AcceptRanges = "bytes";
            response.Headers.CacheControl = "private, no-store"; // candidate audio: no shared cache keeps a copy
            response.ContentLength = end - start + 1;
            if (ranged) response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {start}-{end}/{length}");
            if (HttpMethods.IsHead(http.Request.Method)) return;
            var ct = http.RequestAborted;
            for (var at = start; at <= end;)
            {
                byte[] piece;
                try
                {
                    piece = await grain.Read(tenant, at, (int)Math.Min(Piece, end - at + 1));
                }
                catch (RecordingUnavailableException)
                {
                    http.Abort(); // the status line is gone: a cut connection is the only honest error now (audited by the grain)
                    return;
                }
                if (piece.Length == 0) break;
                await response.Body.WriteAsync(piece, ct);
                at += piece.Length;
            }
        }
    }
}
