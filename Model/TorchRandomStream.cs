using static TorchSharp.torch;

namespace Platform.Model;

/// <summary>
/// A private random stream for libtorch's implicit draws: weight initialisation and dropout/drop-path masks.
/// Those ops read libtorch's process-wide default generator and take no generator of their own, so a run's
/// draws would otherwise depend on whatever else in the process draws (evaluations creating models, other
/// trainers). <see cref="Enter"/> swaps this stream's state into the default generator under one process-wide
/// lock and swaps it out again afterwards; every other draw our code makes (<see cref="EnterDefault"/>, which
/// <see cref="SimVlmModel"/>'s constructor takes) holds the same lock, so no draw can land in a stream it does not own.
/// <para>
/// CUDA: TorchSharp 0.107 can seed the CUDA generators but not read or set their state, so each entry reseeds
/// them from (seed, number of entries so far). A stream's CUDA draws are then a function of its own history
/// alone, and <see cref="CudaEntries"/>, saved with a checkpoint, restores them exactly.
/// </para>
/// </summary>
public sealed class TorchRandomStream
{
    private static readonly Lock DefaultGenerator = new();

    private readonly ulong seed;
    private byte[] cpuState;

    public TorchRandomStream(ulong seed)
    {
        this.seed = seed;
        lock (DefaultGenerator)
        {
            using var outer = get_rng_state();
            manual_seed((long)seed);
            cpuState = ReadCpuState();
            set_rng_state(outer);
        }
    }

    /// <summary>The CPU generator's state between entries (libtorch's serialised mt19937); assigning it restores a saved stream.</summary>
    public byte[] CpuState
    {
        get => (byte[])cpuState.Clone();
        set => cpuState = (byte[])value.Clone();
    }

    /// <summary>Entries that reseeded the CUDA generators so far: the CUDA half of the state.</summary>
    public long CudaEntries { get; set; }

    /// <summary>
    /// Makes this stream libtorch's default generator until the returned scope is disposed, on the same thread;
    /// <paramref name="cuda"/> also reseeds every CUDA device's generator for the draws of CUDA tensors.
    /// </summary>
    public IDisposable Enter(bool cuda = false)
    {
        DefaultGenerator.Enter();
        try
        {
            byte[] outer = ReadCpuState();
            WriteCpuState(cpuState);
            if (cuda)
            {
                TorchSharp.torch.cuda.manual_seed_all((long)CudaSeed(seed, CudaEntries));
                CudaEntries++;
            }
            return new Scope(() =>
            {
                cpuState = ReadCpuState();
                WriteCpuState(outer);
            });
        }
        catch
        {
            DefaultGenerator.Exit();
            throw;
        }
    }

    /// <summary>Holds the process-wide lock for draws from the default generator itself, so that they never land in a stream that is entered.</summary>
    public static IDisposable EnterDefault()
    {
        DefaultGenerator.Enter();
        return new Scope(() => { });
    }

    private static ulong CudaSeed(ulong seed, long entries) =>
        new DeterministicRandom(seed ^ 0x5851F42D4C957F2DUL ^ (ulong)entries * 0x9E3779B97F4A7C15UL).NextUInt64() >> 1;

    private static byte[] ReadCpuState()
    {
        using var state = get_rng_state();
        return state.data<byte>().ToArray();
    }

    private static void WriteCpuState(byte[] state)
    {
        using var tensor = TorchSharp.torch.tensor(state);
        set_rng_state(tensor);
    }

    private sealed class Scope(Action leave) : IDisposable
    {
        private bool left;

        public void Dispose()
        {
            if (left) return;
            left = true;
            try
            {
                leave();
            }
            finally
            {
                DefaultGenerator.Exit();
            }
        }
    }
}
