using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.LiveKit;

/// <summary>
/// Verified LiveKit events of interview rooms go to the owning session, which applies each event id once; anything else
/// (another application's rooms, participants that are not ours, event types we do not use) is acknowledged and ignored.
/// </summary>
public sealed partial class SessionWebhookRouter(IGrainFactory grains, ILogger<SessionWebhookRouter> logger) : ILiveKitEventHandler
{
    public async Task<WebhookResult> HandleAsync(LiveKitWebhookEvent ev, CancellationToken ct)
    {
        RoomEventKind? kind = ev.Event switch
        {
            "participant_joined" => RoomEventKind.ParticipantJoined,
            "participant_left" or "participant_connection_aborted" => RoomEventKind.ParticipantLeft,
            "track_published" => RoomEventKind.TrackPublished,
            "room_finished" => RoomEventKind.RoomFinished,
            _ => null,
        };
        if (kind is null) return Ignore(ev, "event type not used");
        if (SessionIds.FromRoomName(ev.Room?.Name) is not { } sessionId) return Ignore(ev, "not an interview room");

        string? identity = null;
        ParticipantRole? role = null;
        if (kind != RoomEventKind.RoomFinished)
        {
            identity = ev.Participant?.Identity;
            if (string.IsNullOrEmpty(identity)) return Ignore(ev, "no participant identity");
            role = LiveKitWebhookReceiver.RoleOf(ev.Participant!);
            if (role is null) return Ignore(ev, "participant is not one of ours");
        }
        var createdAt = ev.CreatedAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(ev.CreatedAt) : (DateTimeOffset?)null;
        var result = await grains.GetGrain<ISessionRoomEventsGrain>(sessionId).ApplyRoomEvent(new RoomEvent(ev.Id, kind.Value, identity, role, createdAt));
        return result switch
        {
            RoomEventResult.Applied => new WebhookResult(WebhookOutcome.Applied, "applied", ev.Id, ev.Event),
            RoomEventResult.Duplicate => new WebhookResult(WebhookOutcome.Duplicate, "already applied", ev.Id, ev.Event),
            RoomEventResult.UnknownSession => new WebhookResult(WebhookOutcome.Ignored, "no such session", ev.Id, ev.Event),
            _ => new WebhookResult(WebhookOutcome.Ignored, "nothing to do", ev.Id, ev.Event),
        };
    }

    private WebhookResult Ignore(LiveKitWebhookEvent ev, string reason)
    {
        LogIgnored(ev.Event, ev.Id, reason);
        return new WebhookResult(WebhookOutcome.Ignored, reason, ev.Id, ev.Event);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "LiveKit webhook {Event} ({EventId}) ignored: {Reason}")]
    private partial void LogIgnored(string @event, string eventId, string reason);
}
