using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>
/// Envelope encryption of recordings: each object is sealed with AES-256-GCM under the interview's data key; the data key is
/// wrapped (AES-GCM too) by a master key. Every sealed object names, in clear, the master key that wraps its data key, so keys
/// rotate: new interviews use the current key, old ones stay readable while their key stays configured. The object's name is
/// authenticated with it (a chunk swapped for another, or moved to another interview, fails). Key bytes never reach a log.
/// </summary>
public sealed class RecordingKeys
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] ObjectMagic = "VAR1"u8.ToArray();
    private static readonly byte[] KeyMagic = "VAK1"u8.ToArray();
    private readonly Dictionary<string, byte[]> _masters;

    public RecordingKeys(IOptions<RecordingOptions> options)
    {
        var o = options.Value;
        if (o.MasterKeys.Count > 0)
        {
            _masters = o.MasterKeys.ToDictionary(k => k.Key, k => Convert.FromBase64String(k.Value), StringComparer.Ordinal);
            CurrentKeyId = o.CurrentKeyId!;
        }
        else
        {
            // Embedded default only (the validator demands keys with an object store): one key made once, beside the recordings.
            CurrentKeyId = "local";
            _masters = new(StringComparer.Ordinal) { [CurrentKeyId] = LocalKey(o.ResolvedDirectory) };
        }
    }

    public string CurrentKeyId { get; }

    /// <summary>A fresh data key for one interview and its wrapped form under the current master key.</summary>
    public (byte[] DataKey, byte[] Wrapped) NewDataKey(string keyObject)
    {
        var dataKey = RandomNumberGenerator.GetBytes(32);
        return (dataKey, Seal(KeyMagic, CurrentKeyId, _masters[CurrentKeyId], keyObject, dataKey));
    }

    /// <summary>The data key inside a wrapped key object; throws <see cref="RecordingIntegrityException"/> when it fails authentication.</summary>
    public byte[] Unwrap(string keyObject, byte[] wrapped)
    {
        var (keyId, _) = Header(KeyMagic, wrapped, keyObject);
        if (!_masters.TryGetValue(keyId, out var master))
            throw new RecordingIntegrityException($"{keyObject} is wrapped by master key '{keyId}', which is not configured (Recordings:MasterKeys)");
        return Open(KeyMagic, master, keyObject, wrapped);
    }

    /// <summary>Seals one object under the interview's data key; the master key id travels in clear in its header.</summary>
    public byte[] SealObject(byte[] dataKey, string masterKeyId, string objectName, ReadOnlySpan<byte> plaintext) =>
        Seal(ObjectMagic, masterKeyId, dataKey, objectName, plaintext);

    public byte[] OpenObject(byte[] dataKey, string objectName, byte[] sealedObject) => Open(ObjectMagic, dataKey, objectName, sealedObject);

    /// <summary>The master key id a wrapped key names.</summary>
    public static string MasterKeyOf(string keyObject, byte[] wrapped) => Header(KeyMagic, wrapped, keyObject).KeyId;

    private static byte[] Seal(byte[] magic, string keyId, byte[] key, string name, ReadOnlySpan<byte> plaintext)
    {
        var id = Encoding.ASCII.GetBytes(keyId);
        var headerLength = magic.Length + 1 + id.Length;
        var output = new byte[headerLength + NonceSize + TagSize + plaintext.Length];
        magic.CopyTo(output, 0);
        output[magic.Length] = (byte)id.Length;
        id.CopyTo(output, magic.Length + 1);
        var nonce = output.AsSpan(headerLength, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(key, TagSize);
        gcm.Encrypt(nonce, plaintext, output.AsSpan(headerLength + NonceSize + TagSize), output.AsSpan(headerLength + NonceSize, TagSize),
            Aad(name, output.AsSpan(0, headerLength)));
        return output;
    }

    private static byte[] Open(byte[] magic, byte[] key, string name, byte[] sealedObject)
    {
        var (_, headerLength) = Header(magic, sealedObject, name);
        if (sealedObject.Length < headerLength + NonceSize + TagSize) throw new RecordingIntegrityException($"{name} is truncated");
        var plaintext = new byte[sealedObject.Length - headerLength - NonceSize - TagSize];
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            gcm.Decrypt(sealedObject.AsSpan(headerLength, NonceSize), sealedObject.AsSpan(headerLength + NonceSize + TagSize),
                sealedObject.AsSpan(headerLength + NonceSize, TagSize), plaintext, Aad(name, sealedObject.AsSpan(0, headerLength)));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new RecordingIntegrityException($"{name} failed authentication: it was altered, or belongs elsewhere");
        }
        return plaintext;
    }

    private static (string KeyId, int HeaderLength) Header(byte[] magic, byte[] data, string name)
    {
        if (data.Length < magic.Length + 1 || !data.AsSpan(0, magic.Length).SequenceEqual(magic))
            throw new RecordingIntegrityException($"{name} is not a sealed recording object");
        int idLength = data[magic.Length];
        if (data.Length < magic.Length + 1 + idLength) throw new RecordingIntegrityException($"{name} is truncated");
        return (Encoding.ASCII.GetString(data, magic.Length + 1, idLength), magic.Length + 1 + idLength);
    }

    /// <summary>The object's name and its clear header (magic, key id) are authenticated with the ciphertext.</summary>
    private static byte[] Aad(string name, ReadOnlySpan<byte> header)
    {
        var n = Encoding.UTF8.GetBytes(name);
        var aad = new byte[4 + n.Length + header.Length];
        BinaryPrimitives.WriteInt32BigEndian(aad, n.Length);
        n.CopyTo(aad, 4);
        header.CopyTo(aad.AsSpan(4 + n.Length));
        return aad;
    }

    private static byte[] LocalKey(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "master-key.local");
        if (!File.Exists(path))
        {
            var fresh = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // 0600
            try
            {
                using var file = new StreamWriter(path, Encoding.ASCII, options);
                file.Write(fresh);
            }
            catch (IOException) when (File.Exists(path))
            {
                // another silo on this machine made it first
            }
        }
        return Convert.FromBase64String(File.ReadAllText(path).Trim());
    }
}

/// <summary>A stored object failed authentication (altered, truncated, moved, or sealed under a key we do not hold).</summary>
public sealed class RecordingIntegrityException(string message) : Exception(message);
