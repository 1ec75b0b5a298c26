// The decider alone, with the store's given/when/then helpers: no store, no HTTP.
import { decider } from '@waltz/eventstore/testing'
import { describe, it } from 'vitest'
import {
  type CartCommand,
  CartRejected,
  type CartRejectionCode,
  decide,
  evolve,
  initialState,
  isCartRejected,
  MAX_UNITS_PER_CART,
} from '../src/cart.js'
import type { CartEvent } from '../src/events.js'

const cart = decider({ decide, evolve, initialState })

const opened: CartEvent = { type: 'CartOpened', data: { customerId: 'ada' } }
const apples: CartEvent = { type: 'ItemAdded', data: { sku: 'apple', quantity: 2, unitPrice: 150 } }
const pear: CartEvent = { type: 'ItemAdded', data: { sku: 'pear', quantity: 1, unitPrice: 99 } }
const confirmed: CartEvent = { type: 'CartConfirmed', data: { itemCount: 2, total: 300 } }

const rejectedWith = (code: CartRejectionCode) => (err: unknown) => isCartRejected(err, code)

describe('the cart decider', () => {
  it('opens a cart that was never opened', () => {
    cart.given([]).when({ type: 'OpenCart', customerId: 'ada' }).then([opened])
  })

  it('adds items; the same sku again adds to its line', () => {
    cart.given([opened]).when({ type: 'AddItem', sku: 'apple', quantity: 2, unitPrice: 150 }).then([apples])
    cart
      .given([opened, apples])
      .when({ type: 'AddItem', sku: 'apple', quantity: 3, unitPrice: 150 })
      .then([{ type: 'ItemAdded', data: { sku: 'apple', quantity: 3, unitPrice: 150 } }])
  })

  it('removes a whole line, carrying its quantity and price', () => {
    cart
      .given([
        opened,
        apples,
        pear,
        { type: 'ItemAdded', data: { sku: 'apple', quantity: 1, unitPrice: 150 } },
      ])
      .when({ type: 'RemoveItem', sku: 'apple' })
      .then([{ type: 'ItemRemoved', data: { sku: 'apple', quantity: 3, unitPrice: 150 } }])
  })

  it('confirms with the units and total of the lines left', () => {
    cart
      .given([
        opened,
        apples,
        pear,
        { type: 'ItemRemoved', data: { sku: 'pear', quantity: 1, unitPrice: 99 } },
      ])
      .when({ type: 'ConfirmCart' })
      .then([confirmed])
  })

  it('refuses to open a cart twice', () => {
    cart
      .given([opened])
      .when({ type: 'OpenCart', customerId: 'bob' })
      .thenThrows(rejectedWith('CART_ALREADY_OPEN'))
  })

  it('refuses every change to a cart never opened', () => {
    for (const command of [
      { type: 'AddItem', sku: 'apple', quantity: 1, unitPrice: 1 },
      { type: 'RemoveItem', sku: 'apple' },
      { type: 'ConfirmCart' },
    ] satisfies CartCommand[]) {
      cart.given([]).when(command).thenThrows(rejectedWith('CART_NOT_FOUND'))
    }
  })

  it('refuses every change to a confirmed cart', () => {
    for (const command of [
      { type: 'AddItem', sku: 'pear', quantity: 1, unitPrice: 99 },
      { type: 'RemoveItem', sku: 'apple' },
      { type: 'ConfirmCart' },
    ] satisfies CartCommand[]) {
      cart.given([opened, apples, confirmed]).when(command).thenThrows(rejectedWith('CART_CONFIRMED'))
    }
    cart
      .given([opened, apples, confirmed])
      .when({ type: 'OpenCart', customerId: 'ada' })
      .thenThrows(CartRejected)
  })

  it('refuses to remove an item that is not in the cart', () => {
    cart
      .given([opened, apples])
      .when({ type: 'RemoveItem', sku: 'pear' })
      .thenThrows(rejectedWith('ITEM_NOT_IN_CART'))
    cart
      .given([opened, apples, { type: 'ItemRemoved', data: { sku: 'apple', quantity: 2, unitPrice: 150 } }])
      .when({ type: 'RemoveItem', sku: 'apple' })
      .thenThrows(rejectedWith('ITEM_NOT_IN_CART'))
  })

  it('refuses to confirm an empty cart', () => {
    cart.given([opened]).when({ type: 'ConfirmCart' }).thenThrows(rejectedWith('CART_EMPTY'))
    cart
      .given([opened, apples, { type: 'ItemRemoved', data: { sku: 'apple', quantity: 2, unitPrice: 150 } }])
      .when({ type: 'ConfirmCart' })
      .thenThrows(rejectedWith('CART_EMPTY'))
  })

  it('refuses a second price for a sku already in the cart', () => {
    cart
      .given([opened, apples])
      .when({ type: 'AddItem', sku: 'apple', quantity: 1, unitPrice: 120 })
      .thenThrows(rejectedWith('PRICE_MISMATCH'))
  })

  it(`refuses more than ${MAX_UNITS_PER_CART} units, and accepts exactly that many`, () => {
    const full = {
      type: 'ItemAdded',
      data: { sku: 'nail', quantity: MAX_UNITS_PER_CART - 2, unitPrice: 1 },
    } as const
    cart
      .given([opened, apples, full])
      .when({ type: 'AddItem', sku: 'nail', quantity: 1, unitPrice: 1 })
      .thenThrows(rejectedWith('CART_LIMIT_EXCEEDED'))
    cart
      .given([opened, full])
      .when({ type: 'AddItem', sku: 'apple', quantity: 2, unitPrice: 150 })
      .then([apples])
  })
})
