using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>Where sealed recording objects live. Every object it holds is already encrypted; it never sees plaintext.</summary>
public interface IRecordingStore
{
    Task PutAsync(string name, byte[] sealedBytes, CancellationToken ct);

    /// <summary>Null when there is no such object.</summary>
    Task<byte[]?> GetAsync(string name, CancellationToken ct);

    /// <summary>Names, sizes and versions (ETag, or modification time) under a prefix.</summary>
    Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken ct);

    Task DeleteAsync(string name, CancellationToken ct);
}

/// <summary>One stored object as a listing shows it; <see cref="Version"/> changes whenever its bytes do.</summary>
public sealed record StoredObject(string Name, long Size, string Version);

/// <summary>S3-compatible storage through the official SDK (tested against Ceph RADOS Gateway).</summary>
public sealed class S3RecordingStore : IRecordingStore, IDisposable
{
    private readonly AmazonS3Client _s3;
    private readonly string _bucket;
    private readonly SemaphoreSlim _bucketOnce = new(1, 1);
    private volatile bool _bucketReady;

    public S3RecordingStore(IOptions<RecordingOptions> options)
    {
        var o = options.Value.S3;
        _bucket = o.Bucket;
        _s3 = new AmazonS3Client(new BasicAWSCredentials(o.AccessKey, o.SecretKey), new AmazonS3Config
        {
            ServiceURL = o.ServiceUrl,
            ForcePathStyle = o.ForcePathStyle,
            AuthenticationRegion = o.Region,
            // RGW 16.2 answers a streamed upload with the SDK's default checksums with 411 (RECORDING-NOTES.md).
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 1, // the recorder retries whole uploads itself, within its bounded queue
            Timeout = TimeSpan.FromSeconds(30),
        });
    }

    public async Task PutAsync(string name, byte[] sealedBytes, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        using var body = new MemoryStream(sealedBytes, writable: false);
        await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = name, InputStream = body, AutoCloseStream = false, ContentType = "application/octet-stream" }, ct);
    }

    public async Task<byte[]?> GetAsync(string name, CancellationToken ct)
    {
        try
        {
            using var response = await _s3.GetObjectAsync(_bucket, name, ct);
            using var copy = new MemoryStream(response.ContentLength > 0 ? (int)response.ContentLength : 0);
            await response.ResponseStream.CopyToAsync(copy, ct);
            return copy.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken ct)
    {
        var found = new List<StoredObject>();
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix };
        try
        {
            ListObjectsV2Response page;
            do
            {
                page = await _s3.ListObjectsV2Async(request, ct);
                foreach (var o in page.S3Objects ?? []) found.Add(new StoredObject(o.Key, o.Size ?? 0, o.ETag ?? ""));
                request.ContinuationToken = page.NextContinuationToken;
            }
            while (page.IsTruncated == true);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            // nothing was ever stored
        }
        return found;
    }

    public async Task DeleteAsync(string name, CancellationToken ct) => await _s3.DeleteObjectAsync(_bucket, name, ct);

    private async Task EnsureBucketAsync(CancellationToken ct)
    {
        if (_bucketReady) return;
        await _bucketOnce.WaitAsync(ct);
        try
        {
            if (_bucketReady) return;
            try
            {
                await _s3.PutBucketAsync(new PutBucketRequest { BucketName = _bucket }, ct);
            }
            catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
            {
            }
            _bucketReady = true;
        }
        finally
        {
            _bucketOnce.Release();
        }
    }

    public void Dispose() => _s3.Dispose();
}

/// <summary>
/// The embedded default: one file per object under a directory, written to a temporary name and renamed, so a crash leaves
/// either the old object or the new one. The bytes are the same sealed objects the object store gets.
/// </summary>
public sealed class DirectoryRecordingStore(IOptions<RecordingOptions> options) : IRecordingStore
{
    private readonly string _root = Path.GetFullPath(options.Value.ResolvedDirectory);

    public async Task PutAsync(string name, byte[] sealedBytes, CancellationToken ct)
    {
        var path = PathOf(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = $"{path}.{Guid.NewGuid():N}.partial";
        await File.WriteAllBytesAsync(temp, sealedBytes, ct);
        File.Move(temp, path, overwrite: true);
    }

    public async Task<byte[]?> GetAsync(string name, CancellationToken ct)
    {
        var path = PathOf(name);
        try
        {
            return await File.ReadAllBytesAsync(path, ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken ct)
    {
        var found = new List<StoredObject>();
        if (Directory.Exists(_root))
        {
            foreach (var file in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
            {
                if (file.EndsWith(".partial", StringComparison.Ordinal)) continue;
                var name = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
                                var info = new FileInfo(file);
                if (name.StartsWith(prefix, StringComparison.Ordinal)) found.Add(new StoredObject(name, info.Length, info.LastWriteTimeUtc.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        return Task.FromResult<IReadOnlyList<StoredObject>>(found);
    }

    public Task DeleteAsync(string name, CancellationToken ct)
    {
        File.Delete(PathOf(name));
        return Task.CompletedTask;
    }

    private string PathOf(string name)
    {
        var path = Path.GetFullPath(Path.Combine(_root, name));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal)) throw new ArgumentException($"'{name}' leaves the store", nameof(name));
        return path;
    }
}
