using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace VoiceActors.LiveKit;

/// <summary>
/// LiveKit's RoomService over Twirp (JSON bodies, <c>POST /twirp/livekit.RoomService/&lt;Method&gt;</c>), as the official server SDKs call it.
/// Every call carries a 10-minute server token holding only the grant that call needs. Transient failures (transport errors,
/// timeouts, 5xx other than 501, 429) are retried with exponential backoff; a 4xx answer never is.
/// </summary>
public sealed partial class LiveKitRoomClient
{
    public const string PathPrefix = "/twirp/livekit.RoomService/";
    private static readonly TimeSpan ServerTokenTtl = TimeSpan.FromMinutes(10);
    private static readonly MediaTypeHeaderValue JsonContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-8");

    private readonly HttpClient _http;
    private readonly Uri _baseUri;
    private readonly LiveKitTokens _tokens;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;

    /// <param name="http">Its own timeout is not used: each attempt is bounded by <see cref="LiveKitOptions.RequestTimeout"/>.</param>
    /// <param name="serverUrl">The server's URL; <c>ws(s)://</c> is rewritten to <c>http(s)://</c> as the SDKs do.</param>
    public LiveKitRoomClient(HttpClient http, Uri serverUrl, LiveKitTokens tokens, LiveKitOptions options, ILogger logger,
        TimeSpan? firstRetryDelay = null)
    {
        _http = http;
        _baseUri = ToHttp(serverUrl);
        _tokens = tokens;
        _logger = logger;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = TimeProvider.System } // network time is real time, even under a fake clock
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(options.MaxRetries, 1),
                Delay = firstRetryDelay ?? TimeSpan.FromMilliseconds(100),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(options.MaxRetries > 0 && IsTransient(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    LogRetry(args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "no answer");
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(options.RequestTimeout)
            .Build();
    }

    public Uri BaseUri => _baseUri;

    /// <summary>Creates the room, or returns it unchanged if it exists (LiveKit's CreateRoom is idempotent by name).</summary>
    public Task<LiveKitRoom> CreateRoomAsync(CreateRoomOptions room, CancellationToken ct = default) =>
        CallAsync("CreateRoom", new VideoGrant { RoomCreate = true }, w =>
        {
            w.String("name", room.Name);
            w.UInt32("empty_timeout", room.EmptyTimeout);
            w.UInt32("departure_timeout", room.DepartureTimeout);
            w.UInt32("max_participants", room.MaxParticipants);
            w.String("metadata", room.Metadata);
        }, static b => ProtoJson.Parse<LiveKitRoom>(b), ct);

    /// <summary>Deletes the room; a room that is already gone counts as deleted.</summary>
    public async Task DeleteRoomAsync(string room, CancellationToken ct = default)
    {
        try
        {
            await CallAsync("DeleteRoom", new VideoGrant { RoomCreate = true }, w => w.String("room", room), static _ => true, ct);
        }
        catch (LiveKitRequestException e) when (e.TwirpCode == "not_found")
        {
        }
    }

    public async Task<IReadOnlyList<LiveKitRoom>> ListRoomsAsync(IReadOnlyCollection<string>? names = null, CancellationToken ct = default) =>
        (await CallAsync("ListRooms", new VideoGrant { RoomList = true }, w => w.Strings("names", names),
            static b => ProtoJson.Parse<ListRoomsResponse>(b), ct)).Rooms;

    public async Task<IReadOnlyList<LiveKitParticipant>> ListParticipantsAsync(string room, CancellationToken ct = default) =>
        (await CallAsync("ListParticipants", Admin(room), w => w.String("room", room),
            static b => ProtoJson.Parse<ListParticipantsResponse>(b), ct)).Participants;

    public Task RemoveParticipantAsync(string room, string identity, CancellationToken ct = default) =>
        CallAsync("RemoveParticipant", Admin(room), w =>
        {
            w.String("room", room);
            w.String("identity", identity);
        }, static _ => true, ct);

    public Task<LiveKitRoom> UpdateRoomMetadataAsync(string room, string metadata, CancellationToken ct = default) =>
        CallAsync("UpdateRoomMetadata", Admin(room), w =>
        {
            w.String("room", room);
            w.String("metadata", metadata);
        }, static b => ProtoJson.Parse<LiveKitRoom>(b), ct);

    /// <summary>Sends a data packet to everyone in the room, or only to <paramref name="destinationIdentities"/>.</summary>
    public Task SendDataAsync(string room, ReadOnlyMemory<byte> data, DataPacketKind kind, IReadOnlyCollection<string>? destinationIdentities = null,
        string? topic = null, CancellationToken ct = default) =>
        CallAsync("SendData", Admin(room), w =>
        {
            w.String("room", room);
            w.Bytes("data", data.Span);
            w.Enum("kind", kind);
            w.Strings("destination_identities", destinationIdentities);
            if (topic is not null) w.Json.WriteString("topic", topic); // optional field: present even when empty
        }, static _ => true, ct);

    private static VideoGrant Admin(string room) => new() { RoomAdmin = true, Room = room };

    private async Task<T> CallAsync<T>(string method, VideoGrant grant, Action<ProtoJsonWriter> body, Func<byte[], T> parse, CancellationToken ct)
    {
        byte[] json;
        using (var w = ProtoJsonWriter.Compact())
        {
            w.Json.WriteStartObject();
            body(w);
            w.Json.WriteEndObject();
            json = w.ToArray();
        }
        try
        {
            return await _pipeline.ExecuteAsync(async token => parse(await SendOnceAsync(method, grant, json, token)), ct);
        }
        catch (TimeoutRejectedException e)
        {
            throw new LiveKitUnavailableException(method, null, null, "no answer in time", e);
        }
        catch (HttpRequestException e)
        {
            throw new LiveKitUnavailableException(method, null, null, $"cannot reach the server ({e.HttpRequestError})", e);
        }
        catch (JsonException e)
        {
            throw new LiveKitUnavailableException(method, 200, null, "the answer is not a valid message", e);
        }
    }

    private async Task<byte[]> SendOnceAsync(string method, VideoGrant grant, byte[] json, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUri, PathPrefix + method))
        {
            Content = new ByteArrayContent(json) { Headers = { ContentType = JsonContentType } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens.ForServer(grant, ServerTokenTtl));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        if (response.IsSuccessStatusCode) return bytes;
        throw Fail(method, response, bytes);
    }

    /// <summary>Twirp errors are JSON <c>{code, msg, meta}</c>; LiveKit's auth middleware answers 401 in plain text before Twirp runs.</summary>
    private static LiveKitException Fail(string method, HttpResponseMessage response, byte[] body)
    {
        var status = (int)response.StatusCode;
        string? code = null;
        var message = "";
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.TryGetProperty("code", out var c)) code = c.GetString();
                if (doc.RootElement.TryGetProperty("msg", out var m)) message = m.GetString() ?? "";
            }
            catch (JsonException)
            {
                message = "unreadable error body";
            }
        }
        else
        {
            message = System.Text.Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 512))).Trim();
        }
        if (message.Length == 0) message = response.ReasonPhrase ?? "no message";
        var transient = status is >= 500 and not 501 || status is 429 || (status == 408 && code is not null);
        return transient
            ? new LiveKitUnavailableException(method, status, code, message)
            : new LiveKitRequestException(method, status, code, message);
    }

    private static bool IsTransient(Exception? e) => e is LiveKitUnavailableException or HttpRequestException or TimeoutRejectedException;

    private static Uri ToHttp(Uri url)
    {
        var b = new UriBuilder(url);
        b.Scheme = url.Scheme switch { "ws" => "http", "wss" => "https", _ => url.Scheme };
        if (url.IsDefaultPort) b.Port = -1;
        b.Path = b.Path.TrimEnd('/') + "/";
        return b.Uri;
    }

    private sealed record ListRoomsResponse
    {
        public List<LiveKitRoom> Rooms { get; init; } = [];
    }

    private sealed record ListParticipantsResponse
    {
        public List<LiveKitParticipant> Participants { get; init; } = [];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit call failed, retry {Attempt}: {Reason}")]
    private partial void LogRetry(int attempt, string reason);
}

/// <summary>A RoomService call failed. Messages carry the method, status and Twirp code; never a token.</summary>
public abstract class LiveKitException(string method, int? status, string? twirpCode, string message, Exception? inner = null)
    : Exception($"LiveKit {method} failed: {Describe(status, twirpCode)}{message}", inner)
{
    public string Method { get; } = method;
    public int? HttpStatus { get; } = status;
    public string? TwirpCode { get; } = twirpCode;

    private static string Describe(int? status, string? code) =>
        (status, code) switch
        {
            (null, _) => "",
            (_, null) => $"HTTP {status}: ",
            _ => $"HTTP {status} {code}: ",
        };
}

/// <summary>LiveKit refused the request (4xx: bad token, missing grant, bad argument, not found); retrying cannot help.</summary>
public sealed class LiveKitRequestException(string method, int? status, string? twirpCode, string message)
    : LiveKitException(method, status, twirpCode, message);

/// <summary>LiveKit is down, slow or failing (5xx, 429, timeout, refused connection) and stayed so through the retries.</summary>
public sealed class LiveKitUnavailableException(string method, int? status, string? twirpCode, string message, Exception? inner = null)
    : LiveKitException(method, status, twirpCode, message, inner);
