import { bytesSerializer, Wal } from '@waltz/core'
import { walRoundTrip } from '../../../test-support/wal-round-trip.js'
import { type ProtoRecordOf, protoSerializer } from '../src/index.js'
import { reflectedTypes, samples } from './fixtures.js'

walRoundTrip<ProtoRecordOf<typeof reflectedTypes>>('protoSerializer', {
  open: (dir) => Wal.open({ dir, serializer: protoSerializer({ types: reflectedTypes }), sync: 'always' }),
  openMismatched: (dir) => Wal.open({ dir, serializer: bytesSerializer(), sync: 'always' }),
  single: samples.slice(0, 2),
  batch: samples.slice(2),
})
