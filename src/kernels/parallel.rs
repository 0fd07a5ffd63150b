//! Coarse task parallelism. Tasks are fixed by the problem, never by the thread count, so
//! results are bit-identical with any number of threads and without the `rayon` feature.

/// Calls `f(index, chunk)` for every `chunk`-long piece of `data`, in parallel when the
/// `rayon` feature is on and there is enough work (`work` is an estimate in multiply-adds or
/// bytes).
pub(crate) fn for_each_chunk<T, F>(data: &mut [T], chunk: usize, work: u64, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    if chunk == 0 || data.is_empty() {
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        // below ~256k operations the fork costs more than it saves
        if work >= 1 << 18 && data.len() > chunk {
            data.par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(i, c)| f(i, c));
            return;
        }
    }
    let _ = work;
    data.chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, c)| f(i, c));
}

/// Runs `f` on every task, in parallel when the `rayon` feature is on and each task has at
/// least `work_per_task` operations worth forking for, with at most `at_once` tasks running
/// at the same time (each holds its scratch while it runs; see [`super::max_concurrent`]).
pub(crate) fn for_each_task<I, F>(tasks: Vec<I>, work_per_task: u64, at_once: usize, f: F)
where
    I: Send,
    F: Fn(I) + Send + Sync,
{
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        if tasks.len() > 1 && work_per_task >= 1 << 16 && at_once > 1 {
            if at_once >= tasks.len().min(rayon::current_num_threads()) {
                tasks.into_par_iter().for_each(f);
            } else {
                // `at_once` runs of consecutive tasks, each run on one thread in order
                let per_run = tasks.len().div_ceil(at_once);
                let mut runs: Vec<Vec<I>> = Vec::with_capacity(at_once);
                let mut rest = tasks.into_iter().peekable();
                while rest.peek().is_some() {
                    runs.push(rest.by_ref().take(per_run).collect());
                }
                runs.into_par_iter()
                    .for_each(|run| run.into_iter().for_each(&f));
            }
            return;
        }
    }
    let _ = (work_per_task, at_once);
    tasks.into_iter().for_each(f);
}

/// Tasks that run at the same time at most: the thread count (1 without the `rayon` feature).
pub(crate) fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}
