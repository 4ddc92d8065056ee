using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using Concentus;
using Concentus.Enums;
using Microsoft.Extensions.Logging;
using VoiceActors.Media;

namespace VoiceActors.Recording;

/// <summary>What a recording tells its silo: each reaches the session as the worker's pipe carries it back.</summary>
public interface IRecordingEvents
{
    void ChunkStored(uint recording);

    /// <summary>A chunk is lost (the store was behind, or the session ended first): the session's timeline says so.</summary>
    void ChunkDropped(uint recording, double seconds, string why);

    /// <summary>One store call failed or timed out (retried while the chunk is queued).</summary>
    void StoreFailed(uint recording, string reason);
}

/// <summary>
/// One session's recording in the recording worker process (<see cref="RecordingWorker"/>), never in the silo: frames arrive
/// with the silo's arrival time, are placed on a shared timeline (so both channels stay aligned, silence filling gaps), encoded
/// 20 ms at a time with Opus (two uncoupled mono streams), cut into a complete Ogg stream every chunk, and handed to an uploader
/// that seals and stores each chunk and then the manifest. A slow or failing store makes chunks queue (bounded), then drop
/// (counted, told to the session); a resumed session, or this worker restarted, continues the same recording from the manifest.
/// Time is the caller's (<see cref="Pump"/>), so the placement rules run the same in a test on a fake clock.
/// </summary>
public sealed partial class RecordingEncoder
{
    private const int Rate = 24_000; // AudioFormat.SampleRate
    private const int FrameSamples = 480; // 20 ms at 24 kHz
    private const int Ratio48 = OggOpus.GranuleRate / Rate;
    private const int CandidateLane = 0;
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(300); // late frames within this still land in place
    private static readonly long GraceSamples = Grace.Ticks * Rate / TimeSpan.TicksPerSecond;

    private readonly uint _id;
    private readonly string _tenant;
    private readonly string _session;
    private readonly IRecordingEvents _events;
    private readonly RecordingVault _vault;
    private readonly RecordingOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly int _quietLevel;
    private readonly ConcurrentQueue<Frame> _frames = new();
    private readonly int _frameLimit;
    private int _framesQueued;
    private readonly Lane[] _lanes = [new(), new()];
    private readonly IOpusMultiStreamEncoder _encoder;
    private readonly int _chunkFrames;
    private readonly int _preSkip48;
    private readonly short[] _interleaved = new short[FrameSamples * 2];
    private readonly byte[] _packet = new byte[4000];
    private byte[] _chunkBytes = new byte[16 * 1024]; // this chunk's packets back to back, reused chunk after chunk
    private readonly List<int> _packetEnds = [];
    private readonly List<ReadOnlyMemory<byte>> _page = new(50);
    private readonly MemoryStream _ogg = new();
    private readonly LinkedList<Chunk> _uploads = new(); // the upload loop's only
    private readonly ConcurrentQueue<Chunk> _cut = new(); // encoder thread to uploader, lock-free
    private readonly SemaphoreSlim _uploadSignal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _encoding = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _uploading;
    private long _originTicks = -1;
    private long _encoded; // samples per channel encoded since the origin
    private long _chunkStart;
    private int _localChunk;
    private volatile bool _completing;
    private volatile bool _encodingDone;
    private long _framesDropped;
    private long _quietSkipped; // the encoding thread's only
    private long _chunksDropped;
    private long _chunksStored;

    /// <param name="quietLevel">The relay's speech level: what it does not count as speech is a pause this may shorten to catch up.</param>
    public RecordingEncoder(uint id, string tenantId, string sessionId, IRecordingEvents events, RecordingVault vault, int quietLevel, TimeProvider clock, ILogger logger)
    {
        _id = id;
        _tenant = tenantId;
        _session = sessionId;
        _events = events;
        _quietLevel = quietLevel;
        _vault = vault;
        _options = vault.Options;
        _clock = clock;
        _logger = logger;
        _frameLimit = _options.FrameQueue;
        _chunkFrames = (int)(_options.ChunkDuration.TotalMilliseconds / 20);
        _encoder = RecordingCodec.Encoder(_options.Opus);
        _encoder.Bitrate = _options.BitratePerChannel * 2;
        _encoder.Complexity = _options.Complexity;
        _encoder.SignalType = OpusSignal.OPUS_SIGNAL_VOICE;
        _preSkip48 = _encoder.Lookahead * Ratio48;
        _uploading = Task.Run(UploadLoopAsync);
    }

    public long FramesDropped => Interlocked.Read(ref _framesDropped);
    public long ChunksDropped => Interlocked.Read(ref _chunksDropped);
    public long QuietFramesSkipped => Interlocked.Read(ref _quietSkipped);
    public long ChunksStored => Interlocked.Read(ref _chunksStored);

    /// <summary>Set by the thread that pumps this recording: makes it pump now rather than at its next tick.</summary>
    public Action? Wake { get; set; }

    /// <summary>
    /// One frame as it arrived at the silo (lane 0 the candidate, 1 the agent), in an array from <see cref="ArrayPool{T}.Shared"/>
    /// that this returns once placed; beyond <see cref="RecordingOptions.FrameQueue"/> frames not yet placed it is dropped, counted.
    /// </summary>
    public void Offer(byte[] pooledPcm, int length, long atTicks, int lane)
    {
        if (_completing)
        {
            ArrayPool<byte>.Shared.Return(pooledPcm); // the silo sends nothing after the end: only a bug gets here
            return;
        }
        if (Interlocked.Increment(ref _framesQueued) <= _frameLimit)
        {
            _frames.Enqueue(new Frame(pooledPcm, length, atTicks, lane));
            return;
        }
        Interlocked.Decrement(ref _framesQueued);
        ArrayPool<byte>.Shared.Return(pooledPcm);
        Interlocked.Increment(ref _framesDropped);
        RecordingMetrics.FramesDropped.Add(1);
    }

    /// <summary>Encodes what is queued, stores the last chunk and the manifest; bounded by <paramref name="flushTimeout"/>.</summary>
    public async Task CompleteAsync(TimeSpan flushTimeout)
    {
        if (_completing) return;
        _completing = true;
        Wake?.Invoke(); // the rest is encoded now, not at the next tick
        var all = Task.WhenAll(_encoding.Task, _uploading);
        if (await Task.WhenAny(all, Task.Delay(flushTimeout, _clock)) != all)
        {
            LogFlushTimedOut(_session, flushTimeout);
            await _stop.CancelAsync(); // the uploader counts what it could not store as dropped
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(2)));
        }
    }

    /// <summary>
    /// One tick of this recording on the thread that encodes it: places what arrived and encodes what is due by
    /// <paramref name="nowTicks"/> (the silo's clock, UTC ticks). At the end (completing and read to the last frame, or the flush
    /// timeout cut it off) it encodes the rest and returns true: done.
    /// </summary>
    public bool Pump(long nowTicks)
    {
        if (_encodingDone) return true;
        var before = _encoded;
        try
        {
            var ending = _completing; // read before draining: every frame offered before the end is placed below
            while (_frames.TryDequeue(out var frame))
            {
                Interlocked.Decrement(ref _framesQueued);
                try
                {
                    Place(frame);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(frame.Pcm);
                }
            }
            if (_stop.IsCancellationRequested) return Finish();
            if (!ending)
            {
                EncodeDue(nowTicks);
                return false;
            }
            // The end: everything written so far, to the last frame of either side.
            var end = Math.Max(_lanes[0].WritePos, _lanes[1].WritePos);
            while (_encoded < end) EncodeOne();
            if (_packetEnds.Count > 0) CutChunk();
        }
        catch (Exception e)
        {
            LogEncoderFailed(_session, e); // the recording stops; the interview does not
        }
        finally
        {
            if (_encoded > before) RecordingMetrics.FramesEncoded.Add((_encoded - before) / FrameSamples);
        }
        return Finish();
    }

    /// <summary>The worker is stopping: no more encoding; what the uploader holds still goes to the store while it lives.</summary>
    public void Abandon() => Finish();

    private bool Finish()
    {
        if (_encodingDone) return true;
        _encodingDone = true;
        (_encoder as IDisposable)?.Dispose(); // libopus' state is unmanaged
        while (_frames.TryDequeue(out var left)) ArrayPool<byte>.Shared.Return(left.Pcm);
        _uploadSignal.Release();
        _encoding.TrySetResult();
        return true;
    }

    /// <summary>
    /// A frame lands where its arrival says (its end, less its length), unless its side is already past that (a burst, or
    /// agent audio produced faster than it plays): then right after what that side has. The agent's side is a playout queue,
    /// so a gap of more than a frame there is silence. The candidate's side is a live capture: arrival within
    /// <see cref="Grace"/> of where its side has got to is network jitter and lands right after it (else every late frame
    /// would push the channel later for good); a longer gap is silence (frames lost, a reconnect, a move); and a channel that
    /// fell more than <see cref="Grace"/> behind its arrivals (a burst after a long stall) catches up by dropping quiet frames.
    /// </summary>
    private void Place(Frame frame)
    {
        var pcm = frame.Pcm.AsSpan(0, frame.Length);
        var samples = frame.Length / 2;
        if (_originTicks < 0) _originTicks = frame.AtTicks - samples * TimeSpan.TicksPerSecond / Rate;
        var lane = _lanes[frame.Lane];
        var at = (frame.AtTicks - _originTicks) * Rate / TimeSpan.TicksPerSecond - samples;
        if (lane.WritePos < _encoded) lane.Restart(_encoded);
        var gap = at - lane.WritePos;
        if (frame.Lane == CandidateLane)
        {
            if (gap > GraceSamples) lane.Silence(gap);
            else if (-gap > GraceSamples && AudioFormat.MeanAbsoluteLevel(pcm) < _quietLevel)
            {
                _quietSkipped++; // a pause shortened, not speech lost
                RecordingMetrics.QuietFramesSkipped.Add(1);
                return;
            }
        }
        else if (gap > FrameSamples) lane.Silence(gap);
        if (lane.Pending + samples > Rate * 60)
        {
            Interlocked.Increment(ref _framesDropped); // a minute ahead of the timeline: a runaway producer
            RecordingMetrics.FramesDropped.Add(1);
            return;
        }
        lane.Append(pcm);
    }

    /// <summary>
    /// Encodes to <see cref="Grace"/> before <paramref name="nowTicks"/>, silence where no frame arrived. Nothing is due before
    /// the origin plus the grace, nor before the silo's clock is known: a new worker pumps with 0 until its first Tick, and
    /// <c>(0 - origin) × Rate</c> overflowed a long into a due time days ahead, encoding silence until the worker died (#15).
    /// </summary>
    private void EncodeDue(long nowTicks)
    {
        if (_originTicks < 0) return;
        var elapsed = nowTicks - _originTicks - Grace.Ticks;
        if (elapsed <= 0) return;
        // Seconds and the rest apart: ticks × 24 000 overflows after some 440 days; this cannot.
        var due = elapsed / TimeSpan.TicksPerSecond * Rate + elapsed % TimeSpan.TicksPerSecond * Rate / TimeSpan.TicksPerSecond;
        while (_encoded + FrameSamples <= due) EncodeOne();
    }

    private void EncodeOne()
    {
        _lanes[CandidateLane].Take(_interleaved, 0, _encoded);
        _lanes[1].Take(_interleaved, 1, _encoded);
        var n = _encoder.EncodeMultistream(_interleaved, FrameSamples, _packet, _packet.Length);
        var at = _packetEnds.Count == 0 ? 0 : _packetEnds[^1];
        if (at + n > _chunkBytes.Length) Array.Resize(ref _chunkBytes, Math.Max(_chunkBytes.Length * 2, at + n));
        _packet.AsSpan(0, n).CopyTo(_chunkBytes.AsSpan(at));
        _packetEnds.Add(at + n);
        _encoded += FrameSamples;
        if (_packetEnds.Count >= _chunkFrames) CutChunk();
    }

    /// <summary>The packets so far become one complete Ogg Opus stream (headers, granules, CRCs, end of stream).</summary>
    private void CutChunk()
    {
        var started = Stopwatch.GetTimestamp();
        var first = _localChunk == 0;
        var preSkip = first ? _preSkip48 : 0; // later chunks continue the same encoder: no new delay to skip
        var serial = (uint)Random.Shared.Next();
        var ogg = _ogg; // reused: only the finished chunk is a new array
        ogg.SetLength(0);
        OggOpus.WritePage(ogg, serial, 0, 0, OggOpus.FlagBeginOfStream, [OggOpus.OpusHead(2, Rate, preSkip)]);
        OggOpus.WritePage(ogg, serial, 1, 0, 0, [OggOpus.OpusTags("VoiceActors recorder (Concentus)", "VOICEACTORS_CHANNELS=candidate,agent")]);
        var sequence = 2u;
        long granule = preSkip;
        var packets = _packetEnds.Count;
        for (var i = 0; i < packets; i += 50) // one page per second of audio
        {
            _page.Clear();
            for (var k = i; k < Math.Min(i + 50, packets); k++)
            {
                var start = k == 0 ? 0 : _packetEnds[k - 1];
                _page.Add(_chunkBytes.AsMemory(start, _packetEnds[k] - start));
            }
            granule += _page.Count * FrameSamples * Ratio48;
            var last = i + 50 >= packets;
            OggOpus.WritePage(ogg, serial, sequence++, granule, last ? OggOpus.FlagEndOfStream : (byte)0, _page);
        }
        var chunk = new Chunk(_localChunk++, _originTicks, _chunkStart * Ratio48, packets * FrameSamples * Ratio48, ogg.ToArray());
        _chunkStart += packets * FrameSamples;
        _packetEnds.Clear();
        RecordingMetrics.EncodeSeconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
        Enqueue(chunk);
    }

    /// <summary>Lock-free hand-over to the uploader, which takes it into its queue itself.</summary>
    private void Enqueue(Chunk chunk)
    {
        _cut.Enqueue(chunk);
        _uploadSignal.Release();
    }

    private void QueueUpload(Chunk chunk)
    {
        Chunk? dropped = null;
        lock (_uploads)
        {
            _uploads.AddLast(chunk);
            // The one in flight (first) is never the one dropped: it may be half stored already.
            if (_uploads.Count > _options.UploadQueue)
            {
                dropped = _uploads.First!.Next!.Value;
                _uploads.Remove(_uploads.First.Next);
            }
        }
        if (dropped is not null) Dropped(dropped, "the store is behind: the upload queue is full");
    }

    // ---- Storing: its own loop; the store's pace never reaches the encoder or the interview

    private async Task UploadLoopAsync()
    {
        OpenedKey? key = null;
        RecordingManifest? manifest = null;
        long originOffset48 = 0;
        var nextIndex = 0;
        var backoff = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            var ended = _encodingDone; // read before taking the cut chunks: the encoder cuts its last before it says it is done
            while (_cut.TryDequeue(out var cut)) QueueUpload(cut);
            Chunk? chunk;
            lock (_uploads) chunk = _uploads.First?.Value;
            if (chunk is null)
            {
                if (ended) break;
                await _uploadSignal.WaitAsync(_stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                if (_stop.IsCancellationRequested) break;
                continue;
            }
            try
            {
                if (key is null)
                {
                    // Before the first chunk: this interview's key and what an earlier activation stored (a resumed session continues it).
                    var opened = await _vault.OpenOrCreateKeyAsync(_tenant, _session, _stop.Token);
                    manifest = await _vault.ReadManifestAsync(_tenant, _session, opened, _stop.Token)
                        ?? new RecordingManifest(new DateTimeOffset(chunk.OriginTicks, TimeSpan.Zero), []);
                    originOffset48 = Math.Max(0, (chunk.OriginTicks - manifest.StartedAt.UtcTicks) * OggOpus.GranuleRate / TimeSpan.TicksPerSecond);
                    nextIndex = manifest.Chunks.Count == 0 ? 0 : manifest.Chunks.Max(c => c.Index) + 1;
                    key = opened;
                }
                var index = nextIndex + chunk.LocalIndex;
                var sealedLength = await _vault.WriteChunkAsync(_tenant, _session, key, index, chunk.Ogg, _stop.Token);
                var last = manifest!.Chunks.Count == 0 ? 0 : manifest.Chunks[^1].Start48 + manifest.Chunks[^1].Samples48;
                var start = Math.Max(originOffset48 + chunk.Start48, last); // two silos' clocks may disagree: never overlap
                manifest = manifest with { Chunks = [.. manifest.Chunks, new ManifestChunk(index, start, chunk.Samples48, sealedLength)] };
                await _vault.WriteManifestAsync(_tenant, _session, key, manifest, _stop.Token);
                lock (_uploads) _uploads.RemoveFirst();
                Interlocked.Increment(ref _chunksStored);
                RecordingMetrics.ChunksStored.Add(1);
                _events.ChunkStored(_id);
                backoff = TimeSpan.FromMilliseconds(200);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is RecordingStoreException or RecordingIntegrityException)
            {
                RecordingMetrics.StoreErrors.Add(1);
                _events.StoreFailed(_id, e.Message);
                if (_completing && _encodingDone && _stop.IsCancellationRequested) break;
                try
                {
                    await Task.Delay(backoff, _clock, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
        List<Chunk> left;
        lock (_uploads)
        {
            left = [.. _uploads];
            _uploads.Clear();
        }
        while (_cut.TryDequeue(out var cut)) left.Add(cut);
        foreach (var chunk in left) Dropped(chunk, "the session ended before the store took it");
    }

    private void Dropped(Chunk chunk, string why)
    {
        Interlocked.Increment(ref _chunksDropped);
        RecordingMetrics.ChunksDropped.Add(1);
        LogChunkDropped(_session, chunk.LocalIndex, why);
        _events.ChunkDropped(_id, chunk.Samples48 / (double)OggOpus.GranuleRate, why);
    }

    /// <summary>A frame in a pooled array (returned once it is placed), as it arrived at the silo.</summary>
    private readonly record struct Frame(byte[] Pcm, int Length, long AtTicks, int Lane);

    private sealed record Chunk(int LocalIndex, long OriginTicks, long Start48, long Samples48, byte[] Ogg);

    /// <summary>One side's samples not yet encoded, from absolute position <c>WritePos - Pending</c>.</summary>
    private sealed class Lane
    {
        private short[] _buffer = new short[Rate * 2];
        private int _head;
        private int _tail;

        public long WritePos { get; private set; }

        public int Pending => _tail - _head;

        public void Restart(long at)
        {
            _head = _tail = 0;
            WritePos = at;
        }

        public void Silence(long samples)
        {
            Reserve((int)samples);
            Array.Clear(_buffer, _tail, (int)samples);
            _tail += (int)samples;
            WritePos += samples;
        }

        public void Append(ReadOnlySpan<byte> pcm)
        {
            var n = pcm.Length / 2;
            Reserve(n);
            for (var i = 0; i < n; i++) _buffer[_tail + i] = (short)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
            _tail += n;
            WritePos += n;
        }

        /// <summary>The next 20 ms at <paramref name="position"/> into every second slot of <paramref name="into"/>; silence where there is none.</summary>
        public void Take(short[] into, int slot, long position)
        {
            var start = WritePos - Pending;
            for (var i = 0; i < FrameSamples; i++)
            {
                var at = position + i;
                into[2 * i + slot] = at >= start && at < WritePos ? _buffer[_head + (int)(at - start)] : (short)0;
            }
            var consumed = (int)Math.Clamp(position + FrameSamples - start, 0, Pending);
            _head += consumed;
            if (_head == _tail) _head = _tail = 0;
        }

        private void Reserve(int n)
        {
            if (_tail + n <= _buffer.Length) return;
            var pending = Pending;
            var target = _buffer.Length;
            while (pending + n > target) target *= 2;
            var next = target == _buffer.Length ? _buffer : new short[target];
            Array.Copy(_buffer, _head, next, 0, pending);
            _buffer = next;
            _head = 0;
            _tail = pending;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: recording chunk {Chunk} dropped: {Reason}")]
    private partial void LogChunkDropped(string sessionId, int chunk, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Session {SessionId}: the recording encoder stopped")]
    private partial void LogEncoderFailed(string sessionId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: the recording's last chunks were not stored within {Timeout}")]
    private partial void LogFlushTimedOut(string sessionId, TimeSpan timeout);
}
