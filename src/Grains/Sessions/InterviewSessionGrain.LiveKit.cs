using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;

namespace VoiceActors.Sessions;

/// <summary>The session's LiveKit room: provisioned on create, deleted at the end, and what LiveKit's webhooks say about it.</summary>
public sealed partial class InterviewSessionGrain
{
    internal const int MaxRememberedRoomEvents = 256; // LiveKit retries within ~15 s; a session sees a few dozen events in all
    internal const string TrackPublishedKind = "track.published";
    internal const string RoomDeleteFailedKind = "room.delete_failed";
    internal const string ObserverTokenKind = "observer.token";

    private bool _roomFinished;

    /// <summary>Creates the room on the region's LiveKit within <see cref="LiveKitOptions.ProvisionTimeout"/>; on failure the session is Failed.</summary>
    private async Task<bool> ProvisionRoomAsync()
    {
        try
        {
            var region = _livekit.For(State.Region);
            using var bound = new CancellationTokenSource(region.Options.ProvisionTimeout); // real time: it bounds network calls
            var metadata = JsonSerializer.Serialize(new { sessionId = SessionId, region = State.Region });
            var room = await region.Rooms.CreateRoomAsync(
                new CreateRoomOptions(State.RoomName, region.Options.RoomEmptyTimeoutSeconds, region.Options.RoomMaxParticipants, metadata), bound.Token);
            State.RoomSid = room.Sid;
            State.LiveKitUrl = region.PublicUrl;
            Record(TimelineKinds.RoomProvisioned, $"{room.Name} ({room.Sid}) on {region.PublicUrl}");
            return true;
        }
        catch (Exception e) when (e is LiveKitException or OperationCanceledException or InvalidOperationException or OptionsValidationException)
        {
            var reason = e is OperationCanceledException ? "LiveKit did not create the room in time" : $"LiveKit room not created: {e.Message}";
            using var scope = BeginScope();
            LogProvisionFailed(State.Region, e.GetType().Name, e.Message);
            await EndAsync(SessionStatus.Failed, reason);
            return false;
        }
    }

    /// <summary>Region failover: the same room name on the target region's LiveKit; returns its public URL, or null if it refused (retried later).</summary>
    private async Task<string?> ProvisionFailoverRoomAsync(string targetRegion)
    {
        try
        {
            var region = _livekit.For(targetRegion);
            using var bound = new CancellationTokenSource(region.Options.ProvisionTimeout); // real time: it bounds network calls
            var metadata = JsonSerializer.Serialize(new { sessionId = SessionId, region = targetRegion });
            var room = await region.Rooms.CreateRoomAsync(
                new CreateRoomOptions(State.RoomName, region.Options.RoomEmptyTimeoutSeconds, region.Options.RoomMaxParticipants, metadata), bound.Token);
            State.RoomSid = room.Sid;
            State.LiveKitUrl = region.PublicUrl;
            Record(TimelineKinds.RoomProvisioned, $"{room.Name} ({room.Sid}) on {region.PublicUrl} (failover)");
            return region.PublicUrl;
        }
        catch (Exception e) when (e is LiveKitException or OperationCanceledException or InvalidOperationException or OptionsValidationException)
        {
            using var scope = BeginScope();
            LogProvisionFailed(targetRegion, e.GetType().Name, e.Message);
            Record(TimelineKinds.RegionFailover, $"room in {targetRegion} not created: {e.GetType().Name}; retrying");
            await session.WriteStateAsync();
            return null;
        }
    }

    /// <summary>Best effort, bounded: LiveKit's own empty timeout closes a room we could not delete.</summary>
    private async Task DeleteRoomAsync()
    {
        if (State.RoomSid is null || _roomFinished) return;
        try
        {
            var region = _livekit.For(State.Region);
            using var bound = new CancellationTokenSource(region.Options.ProvisionTimeout);
            await region.Rooms.DeleteRoomAsync(State.RoomName, bound.Token);
        }
        catch (Exception e) when (e is LiveKitException or OperationCanceledException or InvalidOperationException or OptionsValidationException)
        {
            using var scope = BeginScope();
            LogRoomDeleteFailed(State.RoomName, e.GetType().Name, e.Message);
            Record(RoomDeleteFailedKind, e.GetType().Name);
            await session.WriteStateAsync();
        }
    }

    private TimeSpan RemainingTime()
    {
        var left = State.CreatedAt + _options.MaxDuration - clock.GetUtcNow();
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
    }

    private string CandidateToken() => _livekit.For(State.Region).Tokens.ForParticipant(
        State.RoomName, LiveKitIdentities.Candidate(State.CandidateId), ParticipantRole.Candidate, RemainingTime(),
        name: State.CandidateName, metadata: JsonSerializer.Serialize(new { sessionId = SessionId }));

    async Task<RoomEventResult> IInterviewSessionGrain.ApplyRoomEvent(RoomEvent e)
    {
        if (!State.Exists)
        {
            DeactivateOnIdle(); // a webhook for a room that is not ours must not keep an empty activation alive
            return RoomEventResult.UnknownSession;
        }
        LogRoomEvent(e.Kind, e.EventId, e.Identity);
        if (e.EventId.Length > 0 && State.AppliedRoomEvents.Contains(e.EventId)) return RoomEventResult.Duplicate;
        if (State.Status.IsTerminal()) return RoomEventResult.Ignored;

        var self = (IInterviewSessionGrain)this;
        var present = e.Identity is not null && State.Participants.Exists(p => p.Identity == e.Identity);
        switch (e.Kind)
        {
            case RoomEventKind.ParticipantJoined when e.Identity is not null && e.Role is { } role:
                Remember(e);
                await self.ParticipantJoined(e.Identity, role);
                return RoomEventResult.Applied;
            case RoomEventKind.ParticipantLeft when present:
                Remember(e);
                await self.ParticipantLeft(e.Identity!);
                return RoomEventResult.Applied;
            case RoomEventKind.TrackPublished when !present && e.Identity is not null && e.Role is { } role:
                Remember(e);
                await self.ParticipantJoined(e.Identity, role); // a publisher is in the room even if its join was lost
                return RoomEventResult.Applied;
            case RoomEventKind.TrackPublished when present:
                Remember(e);
                Record(TrackPublishedKind, e.Identity);
                await session.WriteStateAsync();
                return RoomEventResult.Applied;
            case RoomEventKind.RoomFinished:
                Remember(e);
                _roomFinished = true;
                await self.RoomFinished();
                return RoomEventResult.Applied;
            default:
                return RoomEventResult.Ignored; // no effect, so a retry is harmless: no id to remember, no write (room_started on every create)
        }
    }

    /// <summary>Remembers an event id with the change it causes, in the same state write, so LiveKit's retry is applied once.</summary>
    private void Remember(RoomEvent e)
    {
        if (e.EventId.Length == 0) return;
        if (State.AppliedRoomEvents.Count >= MaxRememberedRoomEvents) State.AppliedRoomEvents.RemoveAt(0);
        State.AppliedRoomEvents.Add(e.EventId);
    }

    async Task<LiveKitJoin> IInterviewSessionGrain.IssueObserverToken(string tenantId, string observerId)
    {
        EnsureTenant(tenantId);
        if (string.IsNullOrWhiteSpace(observerId) || observerId.Length > 64 || !observerId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new SessionValidationException(SessionId, "observerId", "must be 1-64 letters, digits, '-', '_' or '.'");
        if (!State.Status.IsLive() || State.RoomSid is null)
            throw new SessionValidationException(SessionId, "state", $"the interview is {State.Status}; observers can join only a live interview");
        var region = _livekit.For(State.Region);
        var ttl = RemainingTime();
        if (ttl > LiveKitTokens.MaxTtl) ttl = LiveKitTokens.MaxTtl;
        var identity = LiveKitIdentities.Observer(observerId);
        var token = region.Tokens.ForParticipant(State.RoomName, identity, ParticipantRole.Observer, ttl);
        Record(ObserverTokenKind, identity); // who was let in to watch is part of the record
        await session.WriteStateAsync();
        var expires = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().ToUnixTimeSeconds() + (long)Math.Ceiling(ttl.TotalSeconds));
        return new LiveKitJoin(State.LiveKitUrl ?? region.PublicUrl, State.RoomName, identity, ParticipantRole.Observer, token, expires);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "LiveKit {Kind} event {EventId} for {Identity}")]
    private partial void LogRoomEvent(RoomEventKind kind, string eventId, string? identity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit room for region {Region} not provisioned ({Error}): {Message}")]
    private partial void LogProvisionFailed(string region, string error, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit room {Room} not deleted ({Error}): {Message}")]
    private partial void LogRoomDeleteFailed(string room, string error, string message);
}
