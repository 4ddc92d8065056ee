using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.LiveKit;

/// <summary>
/// An in-process stand-in for a LiveKit server, used only for regions with no <c>LiveKit:Url</c>. Its media plane, when Node is
/// there, is the <see cref="StandInSfu"/> child process, which reports who joined and what they publish; this class keeps rooms
/// and participants in memory, answers the RoomService Twirp routes exactly as LiveKit's server does
/// (same auth middleware answers, same grant checks, snake_case responses with every field, int64 as strings),
/// and sends LiveKit-signed webhooks (<c>application/webhook+json</c>, raw JWT with a <c>sha256</c> claim) for what happens in them.
/// Participants join through the SFU, or through <see cref="SimulateParticipantAsync"/> when there is no media plane.
/// </summary>
public sealed partial class LiveKitStandIn : IAsyncDisposable
{
    public const string WebhookPath = "/livekit/webhook";

    private static readonly HashSet<string> KnownMethods = new(StringComparer.Ordinal)
    {
        "CreateRoom", "ListRooms", "DeleteRoom", "ListParticipants", "GetParticipant", "RemoveParticipant", "MutePublishedTrack",
        "UpdateParticipant", "UpdateSubscriptions", "SendData", "UpdateRoomMetadata", "ForwardParticipant", "MoveParticipant", "PerformRpc",
    };

    private const int MaxRoomNameLength = 256;
    private const int MaxMetadataBytes = 64_000;
    private const int WebhookAttempts = 5; // LiveKit's notifier: go-retryablehttp RetryMax 4

    private readonly object _gate = new();
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LiveKitTokens> _keys = new(StringComparer.Ordinal);
    private readonly LiveKitTokens _defaultKey;
    private readonly TimeProvider _clock;
    private readonly IServiceProvider _services;
    private readonly ILogger<LiveKitStandIn> _logger;
    private readonly Channel<Webhook> _webhooks = Channel.CreateUnbounded<Webhook>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _delivery;
    private HttpClient _webhookClient;
    private Uri _webhookUrl = new("http://livekit-stand-in.local" + WebhookPath);
    private Task _lastQueued = Task.CompletedTask;
    private long _sequence;
    private volatile IStandInMediaPlane? _media;
    private readonly HashSet<string> _mediaSids = new(StringComparer.Ordinal);

    public LiveKitStandIn(IOptions<LiveKitOptions> options, TimeProvider clock, IServiceProvider services, ILogger<LiveKitStandIn> logger)
    {
        _clock = clock;
        _services = services;
        _logger = logger;
        _defaultKey = new LiveKitTokens(options.Value, clock);
        RegisterKey(_defaultKey);
        _webhookClient = new HttpClient(new InProcessWebhookHandler(this));
        _delivery = Task.Run(DeliverAsync);
    }

    /// <summary>The URL clients are told to connect to: the SFU's when it runs, else the host's own HTTP address.</summary>
    public string PublicUrl => _media?.Url ?? _httpUrl;

    private string _httpUrl = "ws://127.0.0.1:5080";

    /// <summary>True while an SFU carries this stand-in's media (clients can join with audio).</summary>
    public bool HasMedia => _media is not null;

    /// <summary>Accepts tokens issued with this key (one per region served by the stand-in).</summary>
    public void RegisterKey(LiveKitTokens tokens)
    {
        if (_keys.TryAdd(tokens.ApiKey, tokens)) KeysChanged?.Invoke();
    }

    /// <summary>Raised when a key is added, so the media plane accepts tokens of that key too.</summary>
    internal event Action? KeysChanged;

    /// <summary>API key → secret, for the SFU's stdin only.</summary>
    internal Dictionary<string, string> ApiSecrets() => _keys.ToDictionary(k => k.Key, k => k.Value.ApiSecret, StringComparer.Ordinal);

    /// <summary>The SFU listens: clients are sent there from now on, and evictions are passed down to it.</summary>
    public void AttachMedia(IStandInMediaPlane media) => _media = media;

    /// <summary>The SFU stopped or died: whoever it reported is gone (participant_left), and clients are no longer sent there.</summary>
    public void DetachMedia(IStandInMediaPlane media)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_media, media)) return;
            _media = null;
            foreach (var room in _rooms.Values)
                foreach (var p in room.Participants.Values.Where(p => _mediaSids.Contains(p.Sid)).ToArray())
                {
                    room.Participants.Remove(p.Identity);
                    Emit("participant_left", room, p with { State = ParticipantState.Disconnected });
                }
            _mediaSids.Clear();
        }
    }

    /// <summary>The SFU reports a participant in a room (a join on an unknown room creates it, as LiveKit does).</summary>
    public void OnMediaParticipantJoined(MediaParticipant m)
    {
        lock (_gate)
        {
            if (!_rooms.TryGetValue(m.Room, out var r)) r = AddRoom(new CreateRoomRequestBody { Name = m.Room }, _defaultKey.ApiKey);
            if (r.Participants.Remove(m.Identity, out var replaced)) // duplicate identity: LiveKit replaces the older one
            {
                _mediaSids.Remove(replaced.Sid);
                Emit("participant_left", r, replaced with { State = ParticipantState.Disconnected });
            }
            var kind = m.Kind switch
            {
                "agent" => ParticipantKind.Agent, "sip" => ParticipantKind.Sip, "ingress" => ParticipantKind.Ingress,
                "egress" => ParticipantKind.Egress, _ => ParticipantKind.Standard,
            };
            var p = new LiveKitParticipant
            {
                Sid = m.Sid,
                Identity = m.Identity,
                Name = m.Name,
                Metadata = m.Metadata,
                State = ParticipantState.Active,
                JoinedAt = m.JoinedAt.ToUnixTimeSeconds(),
                JoinedAtMs = m.JoinedAt.ToUnixTimeMilliseconds(),
                Kind = kind,
                Attributes = m.Attributes,
                Permission = new LiveKitParticipantPermission
                {
                    CanSubscribe = m.CanSubscribe, CanPublish = m.CanPublish, CanPublishData = m.CanPublishData,
                    Hidden = m.Hidden, Agent = kind == ParticipantKind.Agent,
                },
            };
            r.Participants[m.Identity] = p;
            _mediaSids.Add(p.Sid);
            Emit("participant_joined", r, p);
        }
    }

    /// <summary>The SFU reports a participant gone. Matched by sid: a newer connection of the same identity stays.</summary>
    public void OnMediaParticipantLeft(string room, string sid, string reason)
    {
        lock (_gate)
        {
            _mediaSids.Remove(sid);
            if (!_rooms.TryGetValue(room, out var r)) return;
            var p = r.Participants.Values.FirstOrDefault(x => x.Sid == sid);
            if (p is null) return; // already removed here (RemoveParticipant, DeleteRoom) or replaced
            r.Participants.Remove(p.Identity);
            Emit("participant_left", r, p with { State = ParticipantState.Disconnected });
        }
    }

    /// <summary>The SFU reports a track published or unpublished: the signed <c>track_published</c>/<c>track_unpublished</c> webhook.</summary>
    public void OnMediaTrack(string room, string participantSid, LiveKitTrack track, bool published)
    {
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var r)) return;
            var p = r.Participants.Values.FirstOrDefault(x => x.Sid == participantSid);
            if (p is null) return;
            if (published && !p.IsPublisher) r.Participants[p.Identity] = p = p with { IsPublisher = true };
            Emit(published ? "track_published" : "track_unpublished", r, p, track);
        }
    }

    /// <summary>Called when the host listens on HTTP: clients connect there and webhooks go to its <c>/livekit/webhook</c>.</summary>
    public void BindToHttp(Uri httpAddress)
    {
        var ws = new UriBuilder(httpAddress) { Scheme = httpAddress.Scheme == "https" ? "wss" : "ws", Path = "" };
        if (httpAddress.IsDefaultPort) ws.Port = -1;
        _httpUrl = ws.Uri.ToString().TrimEnd('/');
        _webhookUrl = new Uri(httpAddress, WebhookPath);
        _webhookClient = new HttpClient();
    }

    /// <summary>An <see cref="HttpMessageHandler"/> that serves the Twirp routes in process (no socket), for the room client.</summary>
    public HttpMessageHandler CreateHandler() => new InProcessTwirpHandler(this);

    public IReadOnlyList<LiveKitRoom> Rooms
    {
        get
        {
            lock (_gate) return _rooms.Values.Select(r => r.ToMessage()).ToArray();
        }
    }

    public IReadOnlyList<LiveKitParticipant> ParticipantsOf(string room)
    {
        lock (_gate) return _rooms.TryGetValue(room, out var r) ? r.Participants.Values.ToArray() : [];
    }

    /// <summary>
    /// A participant joins or leaves <paramref name="room"/> (a join on an unknown room creates it, as LiveKit does);
    /// the matching signed <c>participant_joined</c>/<c>participant_left</c> webhook is queued. Returns once queued, not delivered,
    /// so a grain may call it; use <see cref="WaitForWebhooksAsync"/> to wait for delivery.
    /// </summary>
    /// <exception cref="InvalidOperationException">The room is full.</exception>
    public Task SimulateParticipantAsync(string room, string identity, ParticipantRole role, bool joined, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(room);
        ArgumentException.ThrowIfNullOrWhiteSpace(identity);
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (!_rooms.TryGetValue(room, out var r))
            {
                if (!joined) return Task.CompletedTask;
                r = AddRoom(new CreateRoomRequestBody { Name = room }, _defaultKey.ApiKey);
            }
            if (joined)
            {
                if (!r.Participants.ContainsKey(identity) && r.MaxParticipants > 0 && r.Participants.Count >= r.MaxParticipants)
                    throw new InvalidOperationException($"Room '{room}' is full ({r.MaxParticipants} participants).");
                var p = new LiveKitParticipant
                {
                    Sid = NextId("PA_"),
                    Identity = identity,
                    State = ParticipantState.Active, // participant_joined fires once media is connected
                    JoinedAt = now.ToUnixTimeSeconds(),
                    JoinedAtMs = now.ToUnixTimeMilliseconds(),
                    IsPublisher = role != ParticipantRole.Observer,
                    Kind = role == ParticipantRole.Agent ? ParticipantKind.Agent : ParticipantKind.Standard,
                    Attributes = new Dictionary<string, string> { [LiveKitTokens.RoleAttribute] = LiveKitTokens.RoleName(role) },
                    Permission = new LiveKitParticipantPermission
                    {
                        CanSubscribe = true,
                        CanPublish = role != ParticipantRole.Observer,
                        CanPublishData = role != ParticipantRole.Observer,
                        Hidden = role != ParticipantRole.Candidate,
                        Agent = role == ParticipantRole.Agent,
                    },
                };
                r.Participants[identity] = p;
                Emit("participant_joined", r, p);
            }
            else if (r.Participants.Remove(identity, out var p))
            {
                Emit("participant_left", r, p with { State = ParticipantState.Disconnected });
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>Completes when every webhook queued so far was delivered or abandoned.</summary>
    public Task WaitForWebhooksAsync(CancellationToken ct = default)
    {
        lock (_gate) return _lastQueued.WaitAsync(ct);
    }

    /// <summary>One HTTP request to the stand-in, answered as LiveKit's server would.</summary>
    public Task<StandInResponse> HandleAsync(string httpMethod, string path, string? contentType, string? authorization, byte[] body)
    {
        // LiveKit's auth middleware runs before Twirp: a malformed or invalid token is a bare 401 in plain text.
        LiveKitTokenClaims? claims = null;
        if (!string.IsNullOrEmpty(authorization))
        {
            if (BearerToken.From(authorization) is not { } token)
                return Task.FromResult(StandInResponse.Text(401, "invalid authorization header. Must start with Bearer "));
            if (!_keys.TryGetValue(LiveKitTokens.UnverifiedIssuer(token) ?? "", out var key))
                return Task.FromResult(StandInResponse.Text(401, "invalid API key"));
            try
            {
                claims = key.Verify(token);
            }
            catch (LiveKitTokenException e)
            {
                return Task.FromResult(StandInResponse.Text(401, $"invalid authorization token: {e.Error}"));
            }
        }

        if (!path.StartsWith(LiveKitRoomClient.PathPrefix, StringComparison.Ordinal) || !KnownMethods.Contains(path[LiveKitRoomClient.PathPrefix.Length..]))
            return Task.FromResult(StandInResponse.Twirp(404, "bad_route", $"no handler for path \"{path}\"", ("twirp_invalid_route", $"{httpMethod} {path}")));
        if (httpMethod != "POST")
            return Task.FromResult(StandInResponse.Twirp(404, "bad_route", $"unsupported method \"{httpMethod}\" (only POST is allowed)", ("twirp_invalid_route", $"{httpMethod} {path}")));
        var mediaType = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType != "application/json")
            return Task.FromResult(mediaType == "application/protobuf"
                ? StandInResponse.Twirp(501, "unimplemented", "the in-process LiveKit stand-in speaks JSON only")
                : StandInResponse.Twirp(404, "bad_route", $"unexpected Content-Type: \"{contentType}\"", ("twirp_invalid_route", $"{httpMethod} {path}")));

        var method = path[LiveKitRoomClient.PathPrefix.Length..];
        RequestBody request;
        try
        {
            request = ProtoJson.Parse<RequestBody>(body);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return Task.FromResult(StandInResponse.Twirp(400, "malformed", "the json request could not be decoded"));
        }
        return Task.FromResult(Dispatch(method, request, claims));
    }

    private StandInResponse Dispatch(string method, RequestBody req, LiveKitTokenClaims? claims)
    {
        var grant = claims?.Video;
        var canCreate = grant?.RoomCreate == true;
        var canList = grant?.RoomList == true;
        var isAdminOf = grant?.RoomAdmin == true && !string.IsNullOrEmpty(req.Room) && grant.Room == req.Room;
        var permitted = method switch
        {
            "CreateRoom" or "DeleteRoom" => canCreate,
            "ListRooms" => canList,
            _ => isAdminOf,
        };
        if (!permitted) return StandInResponse.Twirp(401, "unauthenticated", "permissions denied");

        lock (_gate)
        {
            switch (method)
            {
                case "CreateRoom":
                    if (string.IsNullOrEmpty(req.Name)) return StandInResponse.Twirp(400, "invalid_argument", "room name is required", ("argument", "name"));
                    if (req.Name.Length > MaxRoomNameLength)
                        return StandInResponse.Twirp(400, "invalid_argument", $"name length exceeds limit of {MaxRoomNameLength}", ("argument", "name"));
                    if (Encoding.UTF8.GetByteCount(req.Metadata ?? "") > MaxMetadataBytes)
                        return StandInResponse.Twirp(400, "invalid_argument", $"metadata size exceeds limit of {MaxMetadataBytes}", ("argument", "metadata"));
                    if (!_rooms.TryGetValue(req.Name, out var existing))
                        existing = AddRoom(new CreateRoomRequestBody
                        {
                            Name = req.Name, EmptyTimeout = req.EmptyTimeout, DepartureTimeout = req.DepartureTimeout,
                            MaxParticipants = req.MaxParticipants, Metadata = req.Metadata ?? "",
                        }, claims!.Issuer);
                    return Respond(w => w.WriteRoom(existing.ToMessage()));

                case "ListRooms":
                    var rooms = _rooms.Values.Where(r => req.Names.Count == 0 || req.Names.Contains(r.Name)).ToArray();
                    return Respond(w =>
                    {
                        w.Json.WriteStartObject();
                        w.Json.WriteStartArray("rooms");
                        foreach (var r in rooms) w.WriteRoom(r.ToMessage());
                        w.Json.WriteEndArray();
                        w.Json.WriteEndObject();
                    });

                case "DeleteRoom":
                    if (!_rooms.Remove(req.Room ?? "", out var deleted)) return StandInResponse.Twirp(404, "not_found", "requested room does not exist");
                    foreach (var p in deleted.Participants.Values) Emit("participant_left", deleted, p with { State = ParticipantState.Disconnected });
                    deleted.Participants.Clear();
                    _media?.CloseRoom(deleted.Name);
                    Emit("room_finished", deleted, null);
                    return Empty();

                case "ListParticipants":
                    var members = _rooms.TryGetValue(req.Room!, out var listed) ? listed.Participants.Values.ToArray() : [];
                    return Respond(w =>
                    {
                        w.Json.WriteStartObject();
                        w.Json.WriteStartArray("participants");
                        foreach (var p in members) w.WriteParticipant(p);
                        w.Json.WriteEndArray();
                        w.Json.WriteEndObject();
                    });

                case "GetParticipant":
                    if (!_rooms.TryGetValue(req.Room!, out var inRoom) || !inRoom.Participants.TryGetValue(req.Identity ?? "", out var found))
                        return StandInResponse.Twirp(404, "not_found", "participant not found");
                    return Respond(w => w.WriteParticipant(found));

                case "RemoveParticipant":
                    if (!_rooms.TryGetValue(req.Room!, out var from) || !from.Participants.Remove(req.Identity ?? "", out var removed))
                        return StandInResponse.Twirp(404, "not_found", "participant not found");
                    Emit("participant_left", from, removed with { State = ParticipantState.Disconnected });
                    _mediaSids.Remove(removed.Sid);
                    _media?.Remove(from.Name, removed.Identity);
                    return Empty();

                case "UpdateRoomMetadata":
                    if (!_rooms.TryGetValue(req.Room!, out var updated)) return StandInResponse.Twirp(404, "not_found", "requested room does not exist");
                    if (Encoding.UTF8.GetByteCount(req.Metadata ?? "") > MaxMetadataBytes)
                        return StandInResponse.Twirp(400, "invalid_argument", $"metadata size exceeds limit of {MaxMetadataBytes}", ("argument", "metadata"));
                    updated.Metadata = req.Metadata ?? "";
                    return Respond(w => w.WriteRoom(updated.ToMessage()));

                case "SendData":
                    if (req.Nonce is { Length: > 0 } nonce && DecodeBytes(nonce).Length != 16)
                        return StandInResponse.Twirp(400, "invalid_argument", "nonce should be 16-bytes or not present");
                    if (!_rooms.ContainsKey(req.Room!)) return StandInResponse.Twirp(404, "not_found", "requested room does not exist");
                    _ = DecodeBytes(req.Data ?? ""); // no media plane here: validated, then dropped
                    return Empty();

                default:
                    return StandInResponse.Twirp(501, "unimplemented", $"{method} is not supported by the in-process LiveKit stand-in");
            }
        }
    }

    private Room AddRoom(CreateRoomRequestBody req, string apiKey)
    {
        var now = _clock.GetUtcNow();
        var room = new Room(NextId("RM_"), req.Name, now, apiKey)
        {
            EmptyTimeout = req.EmptyTimeout == 0 ? 300 : req.EmptyTimeout, // LiveKit's server defaults
            DepartureTimeout = req.DepartureTimeout == 0 ? 20 : req.DepartureTimeout,
            MaxParticipants = req.MaxParticipants,
            Metadata = req.Metadata,
        };
        _rooms[room.Name] = room;
        Emit("room_started", room, null);
        return room;
    }

    /// <summary>Queues a webhook in event order; called under the lock so order matches what happened.</summary>
    private void Emit(string eventName, Room room, LiveKitParticipant? participant, LiveKitTrack? track = null)
    {
        byte[] body;
        using (var w = ProtoJsonWriter.Compact())
        {
            w.Json.WriteStartObject();
            w.String("event", eventName);
            w.WriteRoom("room", room.ToMessage());
            if (participant is not null) w.WriteParticipant("participant", participant);
            if (track is not null) WriteTrack(w, track);
            w.String("id", NextId("EV_") + Guid.NewGuid().ToString("N")[..12]); // unique across stand-ins of several silos
            w.Int64("created_at", _clock.GetUtcNow().ToUnixTimeSeconds());
            w.Json.WriteEndObject();
            body = w.ToArray();
        }
        var webhook = new Webhook(eventName, body, _keys.GetValueOrDefault(room.ApiKey) ?? _defaultKey);
        _lastQueued = webhook.Done.Task;
        _webhooks.Writer.TryWrite(webhook);
    }

    private async Task DeliverAsync()
    {
        await foreach (var webhook in _webhooks.Reader.ReadAllAsync()) // drains to the end once completed on dispose
        {
            try
            {
                if (!_stopping.IsCancellationRequested) await DeliverOneAsync(webhook);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
            finally
            {
                webhook.Done.TrySetResult(); // delivered or abandoned: either way nobody waits on it any longer
            }
        }
    }

    private async Task DeliverOneAsync(Webhook webhook)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; attempt <= WebhookAttempts; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _webhookUrl)
                {
                    Content = new ByteArrayContent(webhook.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/webhook+json") } },
                };
                request.Headers.TryAddWithoutValidation("Authorization", webhook.Signer.ForWebhook(webhook.Body)); // raw JWT, no "Bearer"
                request.Headers.UserAgent.ParseAdd("LiveKit");
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                using var response = await _webhookClient.SendAsync(request, timeout.Token);
                var status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode) return;
                if (status < 500 && status != 429)
                {
                    LogWebhookRefused(webhook.Event, status);
                    return; // 4xx is not retried, as LiveKit's notifier does
                }
                LogWebhookRetry(webhook.Event, attempt, $"HTTP {status}");
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                LogWebhookRetry(webhook.Event, attempt, e.GetType().Name); // the receiver was unreachable, slow or crashed
            }
            if (attempt < WebhookAttempts) await Task.Delay(delay, TimeProvider.System, _stopping.Token);
            delay *= 2;
        }
        LogWebhookAbandoned(webhook.Event, WebhookAttempts);
    }

    /// <summary><c>livekit.TrackInfo</c> as webhooks carry it: audio only in the stand-in.</summary>
    private static void WriteTrack(ProtoJsonWriter w, LiveKitTrack track)
    {
        w.Json.WriteStartObject(w.Name("track"));
        w.String("sid", track.Sid);
        w.String("type", "AUDIO");
        w.String("name", track.Name);
        w.Bool("muted", track.Muted);
        w.String("source", track.Source.ToUpperInvariant() is { Length: > 0 } s && s != "UNKNOWN" ? s : null);
        w.String("mime_type", track.MimeType);
        w.Json.WriteEndObject();
    }

    private string NextId(string prefix) => prefix + Interlocked.Increment(ref _sequence).ToString("x6", System.Globalization.CultureInfo.InvariantCulture);


    /// <summary>protojson reads bytes as standard or URL-safe base64, padded or not.</summary>
    private static byte[] DecodeBytes(string value)
    {
        var s = value.Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        return Convert.FromBase64String(s);
    }

    private static StandInResponse Respond(Action<ProtoJsonWriter> write)
    {
        using var w = ProtoJsonWriter.TwirpResponse();
        write(w);
        return new StandInResponse(200, "application/json", w.ToArray());
    }

    private static StandInResponse Empty() => new(200, "application/json", "{}"u8.ToArray());

    public async ValueTask DisposeAsync()
    {
        _webhooks.Writer.TryComplete();
        await _stopping.CancelAsync();
        await _delivery;
        _stopping.Dispose();
        _webhookClient.Dispose();
    }

    private sealed class Room(string sid, string name, DateTimeOffset created, string apiKey)
    {
        public string Sid { get; } = sid;
        public string Name { get; } = name;
        public string ApiKey { get; } = apiKey;
        public uint EmptyTimeout { get; init; }
        public uint DepartureTimeout { get; init; }
        public uint MaxParticipants { get; init; }
        public string Metadata { get; set; } = "";
        public Dictionary<string, LiveKitParticipant> Participants { get; } = new(StringComparer.Ordinal);

        public LiveKitRoom ToMessage() => new()
        {
            Sid = Sid,
            Name = Name,
            EmptyTimeout = EmptyTimeout,
            DepartureTimeout = DepartureTimeout,
            MaxParticipants = MaxParticipants,
            CreationTime = created.ToUnixTimeSeconds(),
            CreationTimeMs = created.ToUnixTimeMilliseconds(),
            Metadata = Metadata,
            NumParticipants = (uint)Participants.Values.Count(p => p.Permission?.Hidden != true),
            NumPublishers = (uint)Participants.Values.Count(p => p.IsPublisher),
        };
    }

    private sealed record CreateRoomRequestBody
    {
        public string Name { get; init; } = "";
        public uint EmptyTimeout { get; init; }
        public uint DepartureTimeout { get; init; }
        public uint MaxParticipants { get; init; }
        public string Metadata { get; init; } = "";
    }

    /// <summary>The union of the RoomService request fields the stand-in reads; protojson discards the rest.</summary>
    private sealed record RequestBody
    {
        public string Name { get; init; } = "";
        public uint EmptyTimeout { get; init; }
        public uint DepartureTimeout { get; init; }
        public uint MaxParticipants { get; init; }
        public string? Metadata { get; init; }
        public List<string> Names { get; init; } = [];
        public string? Room { get; init; }
        public string? Identity { get; init; }
        public string? Data { get; init; }
        public string? Nonce { get; init; }
        public DataPacketKind Kind { get; init; }
        public List<string> DestinationIdentities { get; init; } = [];
        public string? Topic { get; init; }
    }

    private sealed record Webhook(string Event, byte[] Body, LiveKitTokens Signer)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The room client's transport when the stand-in serves a region: the same bytes and headers, no socket.</summary>
    private sealed class InProcessTwirpHandler(LiveKitStandIn standIn) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var answer = await standIn.HandleAsync(request.Method.Method, request.RequestUri!.AbsolutePath,
                request.Content?.Headers.ContentType?.ToString(), request.Headers.Authorization?.ToString(), body);
            return answer.ToHttpResponse(request);
        }
    }

    /// <summary>Webhook transport before the host listens on HTTP (and in test clusters without HTTP): straight into the receiver.</summary>
    private sealed class InProcessWebhookHandler(LiveKitStandIn standIn) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var receiver = (LiveKitWebhookReceiver?)standIn._services.GetService(typeof(LiveKitWebhookReceiver))
                ?? throw new InvalidOperationException("No LiveKitWebhookReceiver is registered.");
            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            var auth = request.Headers.TryGetValues("Authorization", out var values) ? values.FirstOrDefault() : null;
            var result = await receiver.ReceiveAsync(body, request.Content.Headers.ContentType?.ToString(), auth, cancellationToken);
            return new HttpResponseMessage((HttpStatusCode)result.HttpStatus) { RequestMessage = request };
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stand-in webhook {Event} refused with HTTP {Status}; not retried")]
    private partial void LogWebhookRefused(string @event, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stand-in webhook {Event} attempt {Attempt} failed: {Reason}")]
    private partial void LogWebhookRetry(string @event, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stand-in webhook {Event} abandoned after {Attempts} attempts")]
    private partial void LogWebhookAbandoned(string @event, int attempts);
}

/// <summary>An answer of the stand-in: status, content type and body, as its HTTP endpoint writes them.</summary>
public sealed record StandInResponse(int Status, string ContentType, byte[] Body)
{
    public static StandInResponse Text(int status, string message) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(message + "\n"));

    /// <summary>A Twirp error: <c>{"code","msg","meta"?}</c>, always JSON.</summary>
    public static StandInResponse Twirp(int status, string code, string message, params (string Key, string Value)[] meta)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("code", code);
            w.WriteString("msg", message);
            if (meta.Length > 0)
            {
                w.WriteStartObject("meta");
                foreach (var (k, v) in meta) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return new StandInResponse(status, "application/json", buffer.WrittenSpan.ToArray());
    }

    public HttpResponseMessage ToHttpResponse(HttpRequestMessage request)
    {
        var content = new ByteArrayContent(Body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
        return new HttpResponseMessage((HttpStatusCode)Status) { Content = content, RequestMessage = request };
    }
}
