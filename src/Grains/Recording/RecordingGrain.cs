using Microsoft.Extensions.Logging;
using VoiceActors.PostSession;
using VoiceActors.PostSession.Persistence;

namespace VoiceActors.Recording;

/// <summary>
/// Serves one interview's recording: read only once the interview ended (compliance has its record), with consent, for its own
/// tenant, before retention. The first open authenticates every stored object and lays the file out; range reads then
/// decrypt one chunk at a time. Every open is audited, a refused one too, with the reason.
/// </summary>
public sealed partial class RecordingGrain(RecordingVault vault, ILogger<RecordingGrain> logger) : Grain, IRecordingGrain
{
    private const int MaxRead = 1 << 20;
    private ServedRecording? _served;
    private string? _servedTenant;
    private string? _servedVersion;

    private string SessionId => this.GetPrimaryKeyString();

    private IComplianceGrain Compliance => GrainFactory.GetGrain<IComplianceGrain>(SessionId);

    async Task<RecordingFile> IRecordingGrain.Open(string tenantId, string actor)
    {
        var status = await Compliance.GetStatus(tenantId);
        if (status is null || !status.Consent.Recording || status.DeletedAt is not null) return Forget();
        try
        {
            // One listing per open: any object whose bytes changed since the file was laid out is authenticated again.
            var listing = await vault.ListAsync(tenantId, SessionId, CancellationToken.None);
            var version = string.Join('|', listing.OrderBy(o => o.Name, StringComparer.Ordinal).Select(o => $"{o.Name}:{o.Size}:{o.Version}"));
            if (_served is null || _servedTenant != tenantId || _servedVersion != version)
            {
                _served = null;
                _served = await ServedRecording.OpenAsync(vault, tenantId, SessionId, CancellationToken.None);
                (_servedTenant, _servedVersion) = (tenantId, version);
            }
            if (_served is null) return Forget();
        }
        catch (RecordingIntegrityException e)
        {
            return await RefuseAsync(tenantId, actor, RecordingFileStatus.Tampered, e.Message);
        }
        catch (RecordingStoreException e)
        {
            return await RefuseAsync(tenantId, actor, RecordingFileStatus.StoreUnavailable, e.Message);
        }
        await Compliance.RecordAccess(tenantId, "recording", actor);
        return new RecordingFile(RecordingFileStatus.Ready, _served.Length, null, _served.DurationSeconds, _served.MissingChunks);
    }

    async Task<byte[]> IRecordingGrain.Read(string tenantId, long offset, int count)
    {
        if (_served is not { } served || _servedTenant != tenantId) throw new RecordingUnavailableException("open the recording first");
        try
        {
            return await served.ReadAsync(offset, Math.Min(count, MaxRead), CancellationToken.None);
        }
        catch (Exception e) when (e is RecordingIntegrityException or RecordingStoreException)
        {
            _served = null; // the next open checks everything again
            LogReadFailed(SessionId, e.Message);
            await Compliance.RecordAudit(tenantId, AuditActions.RecordingRefused, "recording", e.Message);
            throw new RecordingUnavailableException(e.Message);
        }
    }

    private RecordingFile Forget()
    {
        _served = null;
        DeactivateOnIdle();
        return new RecordingFile(RecordingFileStatus.NotFound, 0);
    }

    private async Task<RecordingFile> RefuseAsync(string tenantId, string actor, RecordingFileStatus status, string reason)
    {
        _served = null;
        LogRefused(SessionId, status, reason);
        await Compliance.RecordAudit(tenantId, AuditActions.RecordingRefused, actor, $"{status}: {reason}");
        return new RecordingFile(status, 0, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording of {SessionId} refused ({Status}): {Reason}")]
    private partial void LogRefused(string sessionId, RecordingFileStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording of {SessionId} failed mid-read: {Reason}")]
    private partial void LogReadFailed(string sessionId, string reason);
}
