using System.Threading.Channels;

namespace Platform.Model.Training;

/// <summary>
/// Prepares items ahead of their consumer on a thread of its own, at most <c>capacity</c> ahead, through a bounded
/// channel: the trainer's step takes a step's batches that were drawn, decoded, tokenised and turned into tensors
/// while the previous step computed, so it waits on data only when preparing is slower than the step.
/// Items are prepared one after another by one call sequence, so they come out in exactly the order (and with the
/// same random draws) that calling <c>prepare</c> on the consumer's thread would give. Items still queued when the
/// loader is disposed are disposed with it.
/// </summary>
public sealed class BackgroundBatchLoader<T> : IDisposable where T : IDisposable
{
    private readonly Channel<T> channel;
    private readonly CancellationTokenSource stopping = new();
    private readonly Thread thread;
    private int disposed;

    /// <param name="prepare">Builds the next item; called on the loader's thread only.</param>
    /// <param name="capacity">Items prepared ahead of the consumer at most.</param>
    public BackgroundBatchLoader(Func<T> prepare, int capacity, string name = "batch loader")
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "The loader needs room for one item ahead.");
        channel = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        thread = new Thread(() => Produce(prepare)) { IsBackground = true, Name = name };
        thread.Start();
    }

    private void Produce(Func<T> prepare)
    {
        var writer = channel.Writer;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                // Waiting for room first: an item is prepared only when it can be queued, so the data's cursor never
                // runs more than the capacity ahead of the consumer.
                if (!writer.WaitToWriteAsync(stopping.Token).AsTask().GetAwaiter().GetResult()) return;
                var item = prepare();
                if (!writer.TryWrite(item))
                {
                    item.Dispose();
                    return;
                }
            }
            writer.TryComplete();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            // The consumer sees the preparation's failure at its next Take, in order, after the items prepared before it.
            writer.TryComplete(e);
        }
    }

    /// <summary>
    /// The next item, blocking until it is ready. Rethrows the exception that stopped the loader once the items
    /// prepared before it are taken.
    /// </summary>
    public T Take()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        var reader = channel.Reader;
        if (reader.TryRead(out var ready)) return ready;
        try
        {
            return reader.ReadAsync().AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            throw new InvalidOperationException($"The background loader failed: {e.InnerException.Message}", e.InnerException);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        stopping.Cancel();
        thread.Join();
        while (channel.Reader.TryRead(out var left)) left.Dispose();
        stopping.Dispose();
    }
}
