using System.Text.Json;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>What the manifest says: when the recording started and which chunk holds which stretch of it (48 kHz granules).</summary>
public sealed record RecordingManifest(DateTimeOffset StartedAt, IReadOnlyList<ManifestChunk> Chunks, int DroppedChunks = 0);

public sealed record ManifestChunk(int Index, long Start48, long Samples48, long SealedLength);

/// <summary>One interview's data key, opened for use.</summary>
public sealed record OpenedKey(string MasterKeyId, byte[] DataKey);

/// <summary>
/// The layout of one interview's objects in the store and the operations on them: its wrapped data key, its sealed manifest and
/// its sealed chunks, every store call bounded by <see cref="RecordingOptions.StoreTimeout"/>.
/// </summary>
public sealed class RecordingVault(IRecordingStore store, RecordingKeys keys, IOptions<RecordingOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public IRecordingStore Store => store;

    public RecordingKeys Keys => keys;

    public RecordingOptions Options => options.Value;

    public static string Prefix(string tenantId, string sessionId) => $"recordings/{Uri.EscapeDataString(tenantId)}/{sessionId}/";

    public static string KeyName(string tenantId, string sessionId) => Prefix(tenantId, sessionId) + "key";

    public static string ManifestName(string tenantId, string sessionId) => Prefix(tenantId, sessionId) + "manifest";

    public static string ChunkName(string tenantId, string sessionId, int index) => Prefix(tenantId, sessionId) + $"chunk-{index:D6}.ogg";

    /// <summary>The interview's data key: the stored one (a resumed session), or a new one stored before any audio is.</summary>
    public async Task<OpenedKey> OpenOrCreateKeyAsync(string tenantId, string sessionId, CancellationToken ct)
    {
        if (await OpenKeyAsync(tenantId, sessionId, ct) is { } existing) return existing;
        var name = KeyName(tenantId, sessionId);
        var (dataKey, wrapped) = keys.NewDataKey(name);
        await Bounded(c => store.PutAsync(name, wrapped, c), ct);
        return new OpenedKey(keys.CurrentKeyId, dataKey);
    }

    public async Task<OpenedKey?> OpenKeyAsync(string tenantId, string sessionId, CancellationToken ct)
    {
        var name = KeyName(tenantId, sessionId);
        var wrapped = await Bounded(c => store.GetAsync(name, c), ct);
        return wrapped is null ? null : new OpenedKey(RecordingKeys.MasterKeyOf(name, wrapped), keys.Unwrap(name, wrapped));
    }

    public async Task<RecordingManifest?> ReadManifestAsync(string tenantId, string sessionId, OpenedKey key, CancellationToken ct)
    {
        var name = ManifestName(tenantId, sessionId);
        var sealedBytes = await Bounded(c => store.GetAsync(name, c), ct);
        if (sealedBytes is null) return null;
        var plain = keys.OpenObject(key.DataKey, name, sealedBytes);
        try
        {
            return JsonSerializer.Deserialize<RecordingManifest>(plain, Json) ?? throw new RecordingIntegrityException($"{name} is empty");
        }
        catch (JsonException)
        {
            throw new RecordingIntegrityException($"{name} authenticated but is not a manifest"); // only a bug of ours gets here
        }
    }

    public Task WriteManifestAsync(string tenantId, string sessionId, OpenedKey key, RecordingManifest manifest, CancellationToken ct)
    {
        var name = ManifestName(tenantId, sessionId);
        var sealedBytes = keys.SealObject(key.DataKey, key.MasterKeyId, name, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        return Bounded(c => store.PutAsync(name, sealedBytes, c), ct);
    }

    /// <summary>Seals and stores one chunk; returns its sealed length.</summary>
    public async Task<long> WriteChunkAsync(string tenantId, string sessionId, OpenedKey key, int index, byte[] ogg, CancellationToken ct)
    {
        var name = ChunkName(tenantId, sessionId, index);
        var cpu = Native.ThreadCpuNanoseconds();
        var sealedBytes = keys.SealObject(key.DataKey, key.MasterKeyId, name, ogg);
        if (cpu >= 0) RecordingMetrics.SealCpuSeconds.Add((Native.ThreadCpuNanoseconds() - cpu) / 1e9);
        await Bounded(c => store.PutAsync(name, sealedBytes, c), ct);
        return sealedBytes.LongLength;
    }

    /// <summary>The chunk's Ogg stream, authenticated; null when the object is gone.</summary>
    public async Task<byte[]?> ReadChunkAsync(string tenantId, string sessionId, OpenedKey key, int index, CancellationToken ct)
    {
        var name = ChunkName(tenantId, sessionId, index);
        var sealedBytes = await Bounded(c => store.GetAsync(name, c), ct);
        return sealedBytes is null ? null : keys.OpenObject(key.DataKey, name, sealedBytes);
    }

    public Task<IReadOnlyList<StoredObject>> ListAsync(string tenantId, string sessionId, CancellationToken ct) =>
        Bounded(c => store.ListAsync(Prefix(tenantId, sessionId), c), ct);

    /// <summary>
    /// Erasure at retention: the wrapped data key first (without it every copy of every chunk is noise, wherever it survived),
    /// then every object under the interview's prefix, orphans of a crash included. Returns how many objects were deleted.
    /// </summary>
    public async Task<(int Objects, bool Key)> EraseAsync(string tenantId, string sessionId, CancellationToken ct)
    {
        var objects = await ListAsync(tenantId, sessionId, ct);
        var keyName = KeyName(tenantId, sessionId);
        var hadKey = objects.Any(o => o.Name == keyName);
        if (hadKey) await Bounded(c => store.DeleteAsync(keyName, c), ct);
        var deleted = hadKey ? 1 : 0;
        foreach (var o in objects)
        {
            if (o.Name == keyName) continue;
            await Bounded(c => store.DeleteAsync(o.Name, c), ct);
            deleted++;
        }
        return (deleted, hadKey);
    }

    /// <summary>Every store call is cut off at the configured timeout, so a hung store surfaces as <see cref="RecordingStoreException"/>.</summary>
    public async Task<T> Bounded<T>(Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.StoreTimeout);
        try
        {
            return await call(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new RecordingStoreException($"the recording store did not answer within {options.Value.StoreTimeout}");
        }
        catch (Exception e) when (e is not (RecordingIntegrityException or RecordingStoreException or OperationCanceledException))
        {
            throw new RecordingStoreException($"the recording store failed: {e.GetType().Name}: {e.Message}");
        }
    }

    public Task Bounded(Func<CancellationToken, Task> call, CancellationToken ct) => Bounded<bool>(async c =>
    {
        await call(c);
        return true;
    }, ct);
}

/// <summary>The store timed out or failed.</summary>
public sealed class RecordingStoreException(string message) : Exception(message);
