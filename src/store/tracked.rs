//! The executor every store function runs its statements on: the pool (or a transaction's
//! connection) seen through the database's `Availability`, so that no statement waits on a
//! database known to be down.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use sqlx::any::{AnyQueryResult, AnyRow};
use sqlx::{Any, AnyConnection, Database, Describe, Either, Execute, Executor, Transaction};

use super::availability::Availability;

/// An executor (`&AnyPool` or `&mut AnyConnection`) whose every statement is bounded by the
/// availability verdict.
#[derive(Debug)]
pub struct Tracked<'c, E> {
    pub(super) inner: E,
    pub(super) availability: &'c Availability,
}

impl<'c, E> Executor<'c> for Tracked<'c, E>
where
    E: Executor<'c, Database = Any>,
{
    type Database = Any;

    /// Bouncer never streams rows: the whole result is read under the verdict, then handed
    /// out, so a database that stops answering mid-result releases the caller too.
    fn fetch_many<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Any>,
    {
        let all = self.inner.fetch_many(query).try_collect::<Vec<_>>();
        stream::once(self.availability.bounded(all))
            .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, Q>(
        self,
        query: Q,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Any>,
    {
        Box::pin(self.availability.bounded(self.inner.fetch_optional(query)))
    }

    fn execute<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<AnyQueryResult, sqlx::Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Any>,
    {
        Box::pin(self.availability.bounded(self.inner.execute(query)))
    }

    fn fetch_all<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<Vec<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        Q: 'q + Execute<'q, Any>,
    {
        Box::pin(self.availability.bounded(self.inner.fetch_all(query)))
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [<Any as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Any as Database>::Statement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(
            self.availability
                .bounded(self.inner.prepare_with(sql, parameters)),
        )
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(self.availability.bounded(self.inner.describe(sql)))
    }
}

/// A transaction whose statements, and commit, are bounded like the pool's.
pub struct Tx<'a> {
    pub(super) tx: Transaction<'static, Any>,
    pub(super) availability: &'a Availability,
}

impl Tx<'_> {
    /// The executor for the next statement of this transaction.
    pub fn conn(&mut self) -> Tracked<'_, &mut AnyConnection> {
        Tracked {
            inner: &mut *self.tx,
            availability: self.availability,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.availability.bounded(self.tx.commit()).await
    }
}
